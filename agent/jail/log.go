package jail

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxLogged bounds the refusals written per jail: a program that retries a
// refused call in a loop must not flood the session's log. The rest are
// counted and summed up when the jail ends.
const maxLogged = 50

// eventLog writes the jail's lines ("bai-jail: refused ...") to the log
// descriptor the runner passed (the container's log), or to stderr.
type eventLog struct {
	mu      sync.Mutex
	f       *os.File
	verb    string // "refused" or "would refuse"
	written int
	dropped int
}

func newEventLog(fd int, mode string) *eventLog {
	l := &eventLog{f: os.Stderr, verb: "refused"}
	if mode == ModeWatch {
		l.verb = "would refuse"
	}
	if fd >= 0 {
		unix.CloseOnExec(fd) // the program must not inherit it
		l.f = os.NewFile(uintptr(fd), "bai-jail-log")
	}
	return l
}

// refused logs one refused call by pid.
func (l *eventLog) refused(pid int, call, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written >= maxLogged {
		l.dropped++
		return
	}
	l.written++
	fmt.Fprintf(l.f, "bai-jail: %s %s by %s[%d]: %s\n", l.verb, call, comm(pid), pid, why)
}

func (l *eventLog) debugf(format string, args ...any) {
	if os.Getenv("BAI_JAIL_DEBUG") == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "bai-jail: "+format+"\n", args...)
}

// flush writes the count of refusals that were not logged.
func (l *eventLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		fmt.Fprintf(l.f, "bai-jail: %d more refusals not logged\n", l.dropped)
		l.dropped = 0
	}
}

func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// syscallNames is the reverse of sysnumAMD64.
var syscallNames = func() map[int]string {
	m := make(map[int]string, len(sysnumAMD64))
	for name, nr := range sysnumAMD64 {
		m[nr] = name
	}
	return m
}()

func syscallName(nr int) string {
	if name, ok := syscallNames[nr]; ok {
		return name
	}
	return "syscall_" + strconv.Itoa(nr)
}
