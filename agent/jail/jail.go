// Package jail is bai-jail, the parent of user code inside every session
// container: it confines the program it starts, and everything that
// program starts, to a policy.
//
// Two layers do the confining. A seccomp-bpf filter, installed in the
// child just before it execs the program and inherited by every
// descendant, answers most syscalls at kernel speed: an allowlist, with
// clone3 answered ENOSYS so that libc falls back to clone (whose flags a
// filter can read), and opens for reading, thread creation and ordinary
// ioctls let through without a round trip. What needs judgement goes to
// the tracer (SECCOMP_RET_TRACE): the jail ptraces every process of the
// session's run, reads the arguments of the call from the caller's memory
// and decides: path allowlists for opening for writing, creating,
// deleting, chmod and exec; exec and fork allowances and a cap on live
// processes; signals only to processes under the same jail (never the
// jail, the runner or PID 1); no TIOCSTI; and anything outside the
// allowlist. A refused call returns EPERM and is logged for the session.
//
// Modes:
//
//	enforce  refuse what the policy does not allow (the default)
//	watch    allow everything, log what enforce would refuse
//	noop     exec the program directly: no filter, no tracer (baseline)
//
// Process tree inside a container:
//
//	docker-init ─ bai-runner ─ bai-jail (tracer, own process group)
//	                              └─ program ─ its children (all traced)
//
// The jail exits with its first child's status (re-raising a fatal signal
// on itself so the runner sees the same death), and PTRACE_O_EXITKILL
// makes the kernel kill every remaining traced process when the jail goes:
// nothing started by a run outlives it.
//
// A ptrace jail checks the arguments it read; a thread of the caller can
// rewrite path memory after the check and before the kernel reads it. The
// container (read-only image, dropped capabilities, Docker's own seccomp
// profile, its namespaces and cgroups) is the boundary that holds
// regardless; the jail narrows what code can do inside it.
package jail

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Modes.
const (
	ModeEnforce = "enforce"
	ModeWatch   = "watch"
	ModeNoop    = "noop"
)

// childArg is the hidden first argument of the jail re-executed as the
// child that installs the filter and execs the program.
const childArg = "__bai-jail-child"

// Options are bai-jail's command-line settings.
type Options struct {
	Mode      string
	Policy    string   // policy name (the runtime type); "" is default
	PolicyDir string   // operator overrides: PolicyDir/<name>.yml
	LogFD     int      // descriptor for the jail's log lines; -1: stderr
	Keep      []string // variable names kept besides the policy's
	Argv      []string // the program and its arguments
}

// parseArgs reads bai-jail's flags.
func parseArgs(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("bai-jail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	var keep string
	fs.StringVar(&o.Mode, "mode", ModeEnforce, "enforce, watch or noop")
	fs.StringVar(&o.Policy, "policy", "default", "policy name: PolicyDir/NAME.yml, else the built-in one, else the default")
	fs.StringVar(&o.PolicyDir, "policy-dir", "", "directory of operator policies (NAME.yml)")
	fs.IntVar(&o.LogFD, "log-fd", -1, "descriptor to write refusals to (default stderr)")
	fs.StringVar(&keep, "keep-env", "", "comma-separated variable names to keep besides the policy's preserved_env_keys")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bai-jail [flags] -- program [args...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Argv = fs.Args()
	if len(o.Argv) == 0 {
		return o, fmt.Errorf("no program to run")
	}
	switch o.Mode {
	case ModeEnforce, ModeWatch, ModeNoop:
	default:
		return o, fmt.Errorf("mode %q: want enforce, watch or noop", o.Mode)
	}
	for _, k := range strings.Split(keep, ",") {
		if k = strings.TrimSpace(k); k != "" && envKeyPattern.MatchString(k) {
			o.Keep = append(o.Keep, k)
		}
	}
	return o, nil
}

// flagArgs renders o back into flags, for the re-executed child.
func (o Options) flagArgs() []string {
	return []string{"--mode", o.Mode, "--policy", o.Policy, "--policy-dir", o.PolicyDir,
		"--keep-env", strings.Join(o.Keep, ",")}
}

// Main is bai-jail's entry point; it returns the exit status (when it
// returns at all: on success the program replaces the jail or the jail
// exits with the program's status).
func Main(args []string) int {
	if len(args) > 0 && args[0] == childArg {
		return childMain(args[1:])
	}
	o, err := parseArgs(args, os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 125
	}
	if o.Mode == ModeNoop {
		return execProgram(o.Argv, os.Environ())
	}
	pol, from, err := Load(o.Policy, o.PolicyDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 125
	}
	return supervise(o, pol, from)
}
