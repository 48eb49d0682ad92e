package jail

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
)

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	for _, must := range []string{"read", "execve", "clone", "openat", "exit_group"} {
		if !slices.Contains(p.AllowedSyscalls, must) {
			t.Errorf("default policy lacks %s", must)
		}
	}
	for _, never := range []string{"ptrace", "mount", "bpf", "perf_event_open", "keyctl", "unshare", "setns", "io_uring_setup", "process_vm_readv", "init_module", "kexec_load", "reboot", "pivot_root", "userfaultfd"} {
		if slices.Contains(p.AllowedSyscalls, never) {
			t.Errorf("default policy allows %s", never)
		}
	}
	if p.ExecAllowance != Unlimited || p.ForkAllowance != Unlimited || p.MaxChildProcs != 0 {
		t.Errorf("counters: %+v", p)
	}
	if !p.Allowed(OpOpen, "/home/work/x/y") || p.Allowed(OpOpen, "/home/workshop") || p.Allowed(OpOpen, "/etc/passwd") || !p.Allowed(OpExec, "/usr/bin/python3") {
		t.Error("path matching")
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := Parse([]byte(`
diff_to_default: true
allowed_syscalls: [ptrace, -uname]
whitelist_paths:
  open: [/data, /data/]
exec_allowance: 2
max_child_procs: 8
extra_envs: {A: b}
preserved_env_keys: [MY_*]
`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.AllowedSyscalls, "ptrace") || slices.Contains(p.AllowedSyscalls, "uname") || !slices.Contains(p.AllowedSyscalls, "read") {
		t.Errorf("syscalls: %v", p.AllowedSyscalls)
	}
	if n := len(p.WhitelistPaths[OpOpen]); n != len(Default().WhitelistPaths[OpOpen])+1 || !p.Allowed(OpOpen, "/data/f") {
		t.Errorf("open paths: %v", p.WhitelistPaths[OpOpen])
	}
	if p.ExecAllowance != 2 || p.ForkAllowance != Unlimited || p.MaxChildProcs != 8 {
		t.Errorf("counters: %+v", p)
	}
	env := p.FilterEnv([]string{"PATH=/bin", "MY_X=1", "OTHER=2", "A=old", "noequals"}, []string{"OTHER"})
	if strings.Join(env, " ") != "PATH=/bin MY_X=1 OTHER=2 A=b" {
		t.Errorf("env: %v", env)
	}

	alone, err := Parse([]byte("allowed_syscalls: [read]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(alone.AllowedSyscalls) != 1 || len(alone.WhitelistPaths) != 0 || alone.ExecAllowance != Unlimited {
		t.Errorf("standalone policy: %+v", alone)
	}
	if env := alone.FilterEnv([]string{"PATH=/bin"}, nil); len(env) != 0 {
		t.Errorf("standalone policy keeps %v", env)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"allowed_syscalls: [frobnicate]", `unknown syscall "frobnicate"`},
		{"allowed_syscalls: [-read]", "needs diff_to_default"},
		{"whitelist_paths: {write: [/x]}", `unknown operation "write"`},
		{"whitelist_paths: {open: [relative]}", "not an absolute path"},
		{"exec_allowance: -2", "exec_allowance: -2"},
		{"max_child_procs: -1", "max_child_procs: -1"},
		{"extra_envs: {'A B': x}", "not a variable name"},
		{"preserved_env_keys: ['a=b']", "not a variable name or pattern"},
		{"no_such_field: 1", "no_such_field"},
		{"allowed_syscalls: read", "cannot unmarshal"},
		{"[", "did not find"},
		{strings.Repeat("#", maxPolicySize+1), "larger than"},
	} {
		_, err := Parse([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Parse(%.40q): %v, want an invalid-argument error with %q", c.in, err, c.want)
		}
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "python.yml"), []byte("diff_to_default: true\nexec_allowance: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("exec_allowance: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, from, err := Load("python", dir)
	if err != nil || p.ExecAllowance != 5 || from != filepath.Join(dir, "python.yml") {
		t.Fatalf("override: %v %q %+v", err, from, p.ExecAllowance)
	}
	if _, from, err = Load("cpp", dir); err != nil || from != "built-in default" {
		t.Fatalf("fallback: %v %q", err, from)
	}
	if _, _, err = Load("broken", dir); err == nil || !strings.Contains(err.Error(), "broken.yml") {
		t.Fatalf("broken override: %v", err)
	}
	if _, _, err = Load("../etc/passwd", dir); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad name: %v", err)
	}
	// Every built-in policy parses.
	ents, err := embedded.ReadDir("policies")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".yml")
		if _, from, err := Load(name, ""); err != nil || !strings.HasPrefix(from, "built-in") {
			t.Errorf("built-in %s: %v %q", name, err, from)
		}
	}
}

// FuzzParsePolicy: the parser never panics, refuses with an
// invalid-argument error, and what it accepts is well formed.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("diff_to_default: true\nallowed_syscalls: [ptrace, -uname]\n"))
	f.Add([]byte("whitelist_paths:\n  open: [/a, /b/../c]\n  exec: [/]\nexec_allowance: 3\n"))
	f.Add([]byte("extra_envs: {A: b}\npreserved_env_keys: ['LC_*']\nmax_child_procs: 4\n"))
	if b, err := embedded.ReadFile("policies/default.yml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error without ErrInvalidArgument: %v", err)
			}
			return
		}
		for _, n := range p.AllowedSyscalls {
			if _, ok := sysnumAMD64[n]; !ok {
				t.Fatalf("accepted unknown syscall %q", n)
			}
		}
		for op, paths := range p.WhitelistPaths {
			for _, pth := range paths {
				if !strings.HasPrefix(pth, "/") || filepath.Clean(pth) != pth {
					t.Fatalf("%s path %q is not clean and absolute", op, pth)
				}
			}
		}
		if p.ExecAllowance < Unlimited || p.ForkAllowance < Unlimited || p.MaxChildProcs < 0 {
			t.Fatalf("counters: %+v", p)
		}
		if prog := p.Program(); len(prog) == 0 || len(prog) > 4096 {
			t.Fatalf("filter of %d instructions", len(prog))
		}
	})
}
