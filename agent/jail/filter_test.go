package jail

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// runFilter evaluates prog on one seccomp_data with golang.org/x/net/bpf's
// interpreter. That interpreter loads words big-endian, so the input is
// laid out word by word in that order: the filter only loads whole words.
func runFilter(t *testing.T, prog []unix.SockFilter, arch uint32, nr int, args [6]uint64) uint32 {
	t.Helper()
	raw := make([]bpf.Instruction, len(prog))
	for i, ins := range prog {
		raw[i] = bpf.RawInstruction{Op: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}.Disassemble()
	}
	vm, err := bpf.NewVM(raw)
	if err != nil {
		t.Fatalf("filter does not assemble: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatalf("run filter: %v", err)
	}
	return uint32(out)
}

func TestFilterMatchesPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		pol  Policy
	}{
		{"default", Default()},
		{"forkrules", func() Policy { p := Default(); p.ForkAllowance = 3; return p }()},
		{"tiny", Policy{AllowedSyscalls: []string{"read", "write", "exit_group"}, ForkAllowance: Unlimited, ExecAllowance: Unlimited}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := tc.pol.Program()
			if len(prog) > 4096 {
				t.Fatalf("filter has %d instructions, the kernel takes 4096", len(prog))
			}
			allowed := map[string]bool{}
			for _, n := range tc.pol.AllowedSyscalls {
				allowed[n] = true
			}
			for name, nr := range sysnumAMD64 {
				got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{})
				want := uint32(retAllow)
				switch {
				case !allowed[name]:
					want = retTrace | reasonNotAllowed
				case name == "clone3":
					want = retErrno | uint32(unix.ENOSYS)
				case name == "clone" || name == "fork" || name == "vfork":
					if tc.pol.forkRules() {
						want = retTrace | reasonCheck
					}
				case name == "open" || name == "openat" || name == "ioctl":
					// checked below with arguments
				default:
					for _, c := range checkedSyscalls {
						if c == name {
							want = retTrace | reasonCheck
						}
					}
				}
				if got != want {
					t.Errorf("%s (%d): filter says %#x, want %#x", name, nr, got, want)
				}
			}
			for _, nr := range []int{600, 1000, 0x3fffffff} {
				if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{}); got != retTrace|reasonNotAllowed {
					t.Errorf("unknown syscall %d: %#x", nr, got)
				}
			}
			if got := runFilter(t, prog, unix.AUDIT_ARCH_I386, 0, [6]uint64{}); got != retErrno|uint32(unix.ENOSYS) {
				t.Errorf("i386 entry: %#x", got)
			}
			if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, 0x40000000, [6]uint64{}); got != retErrno|uint32(unix.ENOSYS) {
				t.Errorf("x32 entry: %#x", got)
			}
		})
	}
	prog := Default().Program()
	openat := sysnumAMD64["openat"]
	for _, c := range []struct {
		flags uint64
		want  uint32
	}{
		{unix.O_RDONLY | unix.O_CLOEXEC, retAllow},
		{unix.O_RDONLY | unix.O_DIRECTORY, retAllow},
		{unix.O_WRONLY, retTrace | reasonCheck},
		{unix.O_RDWR, retTrace | reasonCheck},
		{unix.O_RDONLY | unix.O_CREAT, retTrace | reasonCheck},
		{unix.O_RDONLY | unix.O_TRUNC, retTrace | reasonCheck},
		{0xffffffff00000000, retAllow}, // high bits are not flags
	} {
		if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, openat, [6]uint64{2: c.flags}); got != c.want {
			t.Errorf("openat flags %#x: %#x, want %#x", c.flags, got, c.want)
		}
		if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, sysnumAMD64["open"], [6]uint64{1: c.flags}); got != c.want {
			t.Errorf("open flags %#x: %#x, want %#x", c.flags, got, c.want)
		}
	}
	ioctl := sysnumAMD64["ioctl"]
	for cmd, want := range map[uint64]uint32{unix.TCGETS: retAllow, unix.TIOCGWINSZ: retAllow, unix.TIOCSTI: retTrace | reasonIoctl, tiocLinux: retTrace | reasonIoctl} {
		if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, ioctl, [6]uint64{1: cmd}); got != want {
			t.Errorf("ioctl %#x: %#x, want %#x", cmd, got, want)
		}
	}
	fr := Default()
	fr.MaxChildProcs = 10
	prog = fr.Program()
	if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, sysnumAMD64["clone"], [6]uint64{0: unix.CLONE_VM | unix.CLONE_THREAD}); got != retAllow {
		t.Errorf("thread clone: %#x", got)
	}
	if got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, sysnumAMD64["clone"], [6]uint64{0: uint64(unix.SIGCHLD)}); got != retTrace|reasonCheck {
		t.Errorf("process clone: %#x", got)
	}
}
