package jail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"baigo.dev/bai/common/errdefs"
	"go.yaml.in/yaml/v3"
)

// Path operations that whitelist_paths may name.
const (
	OpOpen   = "open"   // open for writing or creating, mkdir, mknod, truncate, link/symlink/rename targets
	OpUnlink = "unlink" // unlink, rmdir, rename sources
	OpChmod  = "chmod"  // chmod and chown
	OpExec   = "exec"   // execve, execveat
)

var pathOps = []string{OpOpen, OpUnlink, OpChmod, OpExec}

// Unlimited is the value of the counters that impose no limit.
const Unlimited = -1

// Policy says what the processes under one jail may do. The zero value
// allows nothing; Default is the policy most images use.
type Policy struct {
	// AllowedSyscalls are the syscall names that are not refused outright.
	AllowedSyscalls []string
	// WhitelistPaths maps a path operation (OpOpen, ...) to the absolute
	// path prefixes it may touch. A prefix matches itself and everything
	// under it; "/proc/self" means the calling process's own /proc entry.
	WhitelistPaths map[string][]string
	// ExecAllowance is how many execs may follow the first one (the program
	// the jail starts); Unlimited for no limit.
	ExecAllowance int
	// ForkAllowance is how many processes (not threads) may be created
	// during the jail's life; Unlimited for no limit.
	ForkAllowance int
	// MaxChildProcs caps the processes alive at once under the jail,
	// the first one included; 0 for no cap.
	MaxChildProcs int
	// ExtraEnvs are set in the program's environment.
	ExtraEnvs map[string]string
	// PreservedEnvKeys are the shell patterns of the variables kept from the
	// jail's own environment; everything else is dropped.
	PreservedEnvKeys []string
}

// policyFile is the YAML form. Pointers tell "absent" from zero so that a
// policy with diff_to_default overrides only what it names.
type policyFile struct {
	DiffToDefault    bool                `yaml:"diff_to_default"`
	AllowedSyscalls  []string            `yaml:"allowed_syscalls"`
	WhitelistPaths   map[string][]string `yaml:"whitelist_paths"`
	ExecAllowance    *int                `yaml:"exec_allowance"`
	ForkAllowance    *int                `yaml:"fork_allowance"`
	MaxChildProcs    *int                `yaml:"max_child_procs"`
	ExtraEnvs        map[string]string   `yaml:"extra_envs"`
	PreservedEnvKeys []string            `yaml:"preserved_env_keys"`
}

//go:embed policies/*.yml
var embedded embed.FS

// maxPolicySize bounds a policy file; real ones are a few KiB.
const maxPolicySize = 1 << 20

var (
	envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envPatPattern = regexp.MustCompile(`^[A-Za-z_*?][A-Za-z0-9_*?]*$`)
	namePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("jail policy: "+format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// Default returns the built-in default policy.
func Default() Policy { return defaultPolicy().clone() }

// defaultPolicy parses the built-in default once; callers get clones.
var defaultPolicy = sync.OnceValue(func() Policy {
	b, err := embedded.ReadFile("policies/default.yml")
	if err != nil {
		panic("jail: default policy missing from the binary: " + err.Error())
	}
	p, err := parse(b, nil)
	if err != nil {
		panic("jail: default policy: " + err.Error())
	}
	return p
})

// Parse reads a policy in YAML. A policy with diff_to_default: true starts
// from Default and adds what it names: syscalls (a name prefixed with "-"
// removes one), paths per operation, preserved keys and extra variables;
// the counters replace the default's when given. Without diff_to_default
// the policy stands alone and whatever it leaves out is refused.
func Parse(b []byte) (Policy, error) {
	def := Default()
	return parse(b, &def)
}

func parse(b []byte, def *Policy) (Policy, error) {
	if len(b) > maxPolicySize {
		return Policy{}, invalid("larger than %d bytes", maxPolicySize)
	}
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Policy{}, invalid("%v", err)
	}
	var p Policy
	if f.DiffToDefault && def != nil {
		p = def.clone()
	} else {
		p = Policy{ExecAllowance: Unlimited, ForkAllowance: Unlimited, WhitelistPaths: map[string][]string{}, ExtraEnvs: map[string]string{}}
	}
	for _, name := range f.AllowedSyscalls {
		remove := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		if _, ok := sysnumAMD64[name]; !ok {
			return Policy{}, invalid("unknown syscall %q in allowed_syscalls", name)
		}
		if remove {
			if !f.DiffToDefault {
				return Policy{}, invalid("%q: removing a syscall (\"-name\") needs diff_to_default: true", name)
			}
			p.AllowedSyscalls = slices.DeleteFunc(p.AllowedSyscalls, func(s string) bool { return s == name })
		} else if !slices.Contains(p.AllowedSyscalls, name) {
			p.AllowedSyscalls = append(p.AllowedSyscalls, name)
		}
	}
	for op, paths := range f.WhitelistPaths {
		if !slices.Contains(pathOps, op) {
			return Policy{}, invalid("whitelist_paths: unknown operation %q (want one of %s)", op, strings.Join(pathOps, ", "))
		}
		for _, pth := range paths {
			if !strings.HasPrefix(pth, "/") || strings.ContainsRune(pth, 0) {
				return Policy{}, invalid("whitelist_paths.%s: %q is not an absolute path", op, pth)
			}
			c := path.Clean(pth)
			if !slices.Contains(p.WhitelistPaths[op], c) {
				p.WhitelistPaths[op] = append(p.WhitelistPaths[op], c)
			}
		}
	}
	for what, v := range map[string]*int{"exec_allowance": f.ExecAllowance, "fork_allowance": f.ForkAllowance} {
		if v != nil && *v < Unlimited {
			return Policy{}, invalid("%s: %d (want -1 for unlimited, or a count)", what, *v)
		}
	}
	if f.ExecAllowance != nil {
		p.ExecAllowance = *f.ExecAllowance
	}
	if f.ForkAllowance != nil {
		p.ForkAllowance = *f.ForkAllowance
	}
	if f.MaxChildProcs != nil {
		if *f.MaxChildProcs < 0 {
			return Policy{}, invalid("max_child_procs: %d (want 0 for no cap, or a count)", *f.MaxChildProcs)
		}
		p.MaxChildProcs = *f.MaxChildProcs
	}
	for k, v := range f.ExtraEnvs {
		if !envKeyPattern.MatchString(k) {
			return Policy{}, invalid("extra_envs: %q is not a variable name", k)
		}
		if strings.ContainsRune(v, 0) {
			return Policy{}, invalid("extra_envs.%s: value holds a NUL byte", k)
		}
		p.ExtraEnvs[k] = v
	}
	for _, k := range f.PreservedEnvKeys {
		if !envPatPattern.MatchString(k) {
			return Policy{}, invalid("preserved_env_keys: %q is not a variable name or pattern", k)
		}
		if !slices.Contains(p.PreservedEnvKeys, k) {
			p.PreservedEnvKeys = append(p.PreservedEnvKeys, k)
		}
	}
	sort.Strings(p.AllowedSyscalls)
	return p, nil
}

func (p Policy) clone() Policy {
	c := p
	c.AllowedSyscalls = slices.Clone(p.AllowedSyscalls)
	c.PreservedEnvKeys = slices.Clone(p.PreservedEnvKeys)
	c.WhitelistPaths = make(map[string][]string, len(p.WhitelistPaths))
	for k, v := range p.WhitelistPaths {
		c.WhitelistPaths[k] = slices.Clone(v)
	}
	c.ExtraEnvs = make(map[string]string, len(p.ExtraEnvs))
	for k, v := range p.ExtraEnvs {
		c.ExtraEnvs[k] = v
	}
	return c
}

// Load finds the policy called name: dir/name.yml when dir holds one (an
// operator's override), else the built-in one, else the default policy.
// It returns where the policy came from, for the log.
func Load(name, dir string) (Policy, string, error) {
	if name == "" {
		name = "default"
	}
	if !namePattern.MatchString(name) {
		return Policy{}, "", invalid("policy name %q: want lowercase letters, digits, '.', '_' and '-'", name)
	}
	if dir != "" {
		file := filepath.Join(dir, name+".yml")
		b, err := readBounded(file)
		switch {
		case err == nil:
			p, err := Parse(b)
			if err != nil {
				return Policy{}, "", fmt.Errorf("%s: %w", file, err)
			}
			return p, file, nil
		case !errors.Is(err, os.ErrNotExist):
			return Policy{}, "", fmt.Errorf("jail policy %s: %w", file, err)
		}
	}
	if name == "default" {
		return Default(), "built-in default", nil
	}
	b, err := embedded.ReadFile("policies/" + name + ".yml")
	if err != nil {
		return Default(), "built-in default", nil
	}
	p, err := Parse(b)
	if err != nil {
		return Policy{}, "", fmt.Errorf("built-in policy %s: %w", name, err)
	}
	return p, "built-in " + name, nil
}

func readBounded(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPolicySize {
		return nil, invalid("%s is larger than %d bytes", file, maxPolicySize)
	}
	return b, nil
}

// Allowed reports whether the policy lets op touch the clean absolute path
// p. For "/proc/self" entries the caller passes p with its own /proc/<pid>
// prefix already rewritten to /proc/self.
func (p Policy) Allowed(op, pth string) bool {
	for _, prefix := range p.WhitelistPaths[op] {
		if prefix == "/" || pth == prefix || strings.HasPrefix(pth, prefix+"/") {
			return true
		}
	}
	return false
}

// FilterEnv returns env reduced to the preserved keys (the policy's
// patterns and the names in keep), followed by the policy's extra
// variables, which win over kept ones of the same name.
func (p Policy) FilterEnv(env []string, keep []string) []string {
	out := make([]string, 0, len(env)+len(p.ExtraEnvs))
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, extra := p.ExtraEnvs[k]; extra {
			continue
		}
		if slices.Contains(keep, k) || p.preserved(k) {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(p.ExtraEnvs))
	for k := range p.ExtraEnvs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+p.ExtraEnvs[k])
	}
	return out
}

func (p Policy) preserved(key string) bool {
	for _, pat := range p.PreservedEnvKeys {
		if ok, _ := path.Match(pat, key); ok {
			return true
		}
	}
	return false
}
