package jail

import (
	"slices"

	"golang.org/x/sys/unix"
)

// The filter is classic BPF over struct seccomp_data (x86-64 layout:
// nr at 0, arch at 4, instruction pointer at 8, args at 16 + 8*i). It
// answers most syscalls itself (allow, or ENOSYS for clone3) and hands the
// rest to the tracer with SECCOMP_RET_TRACE, whose 16 data bits say why;
// the tracer reads them with PTRACE_GETEVENTMSG. Calls outside the
// allowlist go to the tracer too rather than failing in the filter, so that
// every refusal is logged for the session (and watch mode can let it
// through).

// Reasons carried in SECCOMP_RET_DATA.
const (
	reasonNotAllowed = 1 // not in allowed_syscalls
	reasonCheck      = 2 // allowed subject to the tracer's checks
	reasonIoctl      = 3 // ioctl(TIOCSTI) or ioctl(TIOCLINUX)
)

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retTrace = unix.SECCOMP_RET_TRACE
	retErrno = unix.SECCOMP_RET_ERRNO

	writeFlags  = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC
	x32Bit      = 0x40000000
	tiocLinux   = 0x541C
	seccompArch = 4
)

// leaf is what the filter does with one syscall number.
type leaf int

const (
	leafAllow      leaf = iota
	leafNotAllow        // to the tracer: refuse (watch: log and allow)
	leafCheck           // to the tracer: check paths, counters or targets
	leafENOSYS          // clone3: libc falls back to clone
	leafOpen1           // open: check when arg 1 has write flags
	leafOpen2           // openat: check when arg 2 has write flags
	leafCloneFlags      // clone: threads pass, processes are checked
	leafIoctl           // ioctl: TIOCSTI and TIOCLINUX refused
)

// checkedSyscalls are allowed syscalls that the tracer always checks.
var checkedSyscalls = []string{
	"openat2", "creat", "truncate", "mkdir", "mkdirat", "mknod", "mknodat",
	"link", "linkat", "symlink", "symlinkat", "rename", "renameat", "renameat2",
	"unlink", "unlinkat", "rmdir", "chmod", "fchmodat", "fchmodat2", "chown",
	"lchown", "fchownat", "execve", "execveat", "kill", "tkill", "tgkill",
	"rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
}

// forkRules reports whether the policy limits process creation, which is
// then checked by the tracer; otherwise the filter lets it through (the
// tracer still follows every new process through ptrace options).
func (p Policy) forkRules() bool {
	return p.ForkAllowance != Unlimited || p.MaxChildProcs > 0
}

// leaves classifies every syscall number up to the table's highest.
func (p Policy) leaves() []leaf {
	maxNr := 0
	for _, nr := range sysnumAMD64 {
		maxNr = max(maxNr, nr)
	}
	out := make([]leaf, maxNr+1)
	for i := range out {
		out[i] = leafNotAllow
	}
	for _, name := range p.AllowedSyscalls {
		nr, ok := sysnumAMD64[name]
		if !ok {
			continue
		}
		l := leafAllow
		switch {
		case name == "clone3":
			l = leafENOSYS
		case name == "open":
			l = leafOpen1
		case name == "openat":
			l = leafOpen2
		case name == "ioctl":
			l = leafIoctl
		case name == "clone" && p.forkRules():
			l = leafCloneFlags
		case (name == "fork" || name == "vfork") && p.forkRules():
			l = leafCheck
		case slices.Contains(checkedSyscalls, name):
			l = leafCheck
		}
		out[nr] = l
	}
	return out
}

type span struct {
	lo int // first syscall number
	l  leaf
}

// Program builds the policy's seccomp filter for x86-64.
func (p Policy) Program() []unix.SockFilter {
	leaves := p.leaves()
	var spans []span
	for nr, l := range leaves {
		if len(spans) == 0 || spans[len(spans)-1].l != l {
			spans = append(spans, span{lo: nr, l: l})
		}
	}
	// Numbers past the table are unknown to this build: refused.
	spans = append(spans, span{lo: len(leaves), l: leafNotAllow})

	prog := []unix.SockFilter{
		ld(seccompArch),
		jeq(unix.AUDIT_ARCH_X86_64, 1, 0),
		ret(retErrno | uint32(unix.ENOSYS)), // i386 entry points
		ld(0),
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, Jt: 0, Jf: 1, K: x32Bit},
		ret(retErrno | uint32(unix.ENOSYS)), // x32 entry points
	}
	return append(prog, tree(spans)...)
}

// tree emits a binary search over spans on the syscall number in A.
func tree(spans []span) []unix.SockFilter {
	if len(spans) == 1 {
		return leafCode(spans[0].l)
	}
	mid := len(spans) / 2
	left, right := tree(spans[:mid]), tree(spans[mid:])
	key := uint32(spans[mid].lo)
	var out []unix.SockFilter
	if len(left) <= 255 {
		out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, Jt: uint8(len(left)), Jf: 0, K: key})
	} else {
		// Conditional jumps reach 255 instructions; a long left subtree is
		// skipped with an unconditional jump, which reaches any distance.
		out = append(out,
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, Jt: 0, Jf: 1, K: key},
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(left))})
	}
	out = append(out, left...)
	return append(out, right...)
}

func leafCode(l leaf) []unix.SockFilter {
	switch l {
	case leafAllow:
		return []unix.SockFilter{ret(retAllow)}
	case leafNotAllow:
		return []unix.SockFilter{ret(retTrace | reasonNotAllowed)}
	case leafCheck:
		return []unix.SockFilter{ret(retTrace | reasonCheck)}
	case leafENOSYS:
		return []unix.SockFilter{ret(retErrno | uint32(unix.ENOSYS))}
	case leafOpen1, leafOpen2:
		arg := uint32(1)
		if l == leafOpen2 {
			arg = 2
		}
		return []unix.SockFilter{
			ld(argLow(arg)),
			{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 0, Jf: 1, K: writeFlags},
			ret(retTrace | reasonCheck),
			ret(retAllow),
		}
	case leafCloneFlags:
		return []unix.SockFilter{
			ld(argLow(0)),
			{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 0, Jf: 1, K: unix.CLONE_THREAD},
			ret(retAllow),
			ret(retTrace | reasonCheck),
		}
	case leafIoctl:
		return []unix.SockFilter{
			ld(argLow(1)),
			jeq(unix.TIOCSTI, 2, 0),
			jeq(tiocLinux, 1, 0),
			ret(retAllow),
			ret(retTrace | reasonIoctl),
		}
	}
	panic("jail: unknown filter leaf")
}

// argLow is the offset of the low 32 bits of syscall argument i (little
// endian): flags and commands fit there.
func argLow(i uint32) uint32 { return 16 + 8*i }

func ld(off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
}

func jeq(k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

func ret(k uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
}
