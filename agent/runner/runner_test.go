package runner_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/kproto"
	"github.com/go-zeromq/zmq4"
)

func TestReadyAndStatus(t *testing.T) {
	tr := startRunner(t, "python")
	a := dialAgent(t, tr.cfg.IPCDir)
	m := a.recv()
	if m.Op != kproto.OpReady {
		t.Fatalf("want ready, got %s", m.Op)
	}
	var rd kproto.Ready
	if err := json.Unmarshal(m.Payload, &rd); err != nil || rd.RuntimeType != "python" || rd.PID == 0 {
		t.Fatalf("ready payload %q (%v)", m.Payload, err)
	}
	a.send(kproto.OpStatus, "")
	st := a.expect(kproto.OpRunnerStatus)
	if !strings.Contains(string(st.Payload), `"idle"`) {
		t.Errorf("status payload %q", st.Payload)
	}
}

// TestReadyWaitsForLateAgent checks that zmq4 holds the ready message until
// an agent connects, however late.
func TestReadyWaitsForLateAgent(t *testing.T) {
	tr := startRunner(t, "python")
	sock := filepath.Join(tr.cfg.IPCDir, kproto.OutSocket)
	deadline := time.Now().Add(waitLong)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runner never bound out.sock")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	time.Sleep(700 * time.Millisecond) // the agent is late on purpose
	a := dialAgent(t, tr.cfg.IPCDir)
	if m := a.recv(); m.Op != kproto.OpReady {
		t.Fatalf("want ready, got %s", m.Op)
	}
}

func TestQueryMode(t *testing.T) {
	_, a := connect(t)
	tests := []struct {
		name         string
		src          string
		stdout       string
		stderrHas    []string
		stderrHasNot []string
		exit         int
	}{
		{name: "print", src: "print(1)", stdout: "1\n"},
		{name: "assign", src: "x = 41", stdout: ""},
		{name: "state kept and last expression echoed", src: "x + 1", stdout: "42\n"},
		{name: "None is not echoed", src: "None", stdout: ""},
		{name: "only the last expression is echoed", src: "1\n'a' * 3", stdout: "'aaa'\n"},
		{name: "function across runs", src: "def f(n):\n    return n * 2", stdout: ""},
		{name: "use function", src: "print(f(x))", stdout: "82\n"},
		{
			name: "exception", src: "def g():\n    return 1/0\ng()",
			stderrHas:    []string{"Traceback", "ZeroDivisionError", "<cell", "return 1/0"},
			stderrHasNot: []string{"_bai_main", "python_helper", `File "<string>"`},
			exit:         1,
		},
		{name: "syntax error", src: "def (", stderrHas: []string{"SyntaxError"}, exit: 1},
		{name: "sys.exit keeps the REPL", src: "import sys; sys.exit(3)", exit: 3},
		{name: "state after sys.exit", src: "x", stdout: "41\n"},
		{name: "raw fd writes", src: "import os; _ = os.write(1, b'raw\\n'); _ = os.write(2, b'rawerr\\n')", stdout: "raw\n", stderrHas: []string{"rawerr"}},
		{name: "subprocess output", src: "import os; _ = os.system('echo from-shell')", stdout: "from-shell\n"},
		{name: "large source", src: "s = '" + strings.Repeat("a", 300000) + "'\nprint(len(s))", stdout: "300000\n"},
		{name: "stdin without input request is an input call", src: "import sys; print(sys.stdin.isatty())", stdout: "False\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			r := a.code(tc.src)
			if r.stdout != tc.stdout {
				t.Errorf("stdout = %q, want %q (stderr %q)", r.stdout, tc.stdout, r.stderr)
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q lacks %q", r.stderr, s)
				}
			}
			for _, s := range tc.stderrHasNot {
				if strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q has %q", r.stderr, s)
				}
			}
			if len(tc.stderrHas) == 0 && r.stderr != "" {
				t.Errorf("unexpected stderr %q", r.stderr)
			}
			if r.exit != tc.exit {
				t.Errorf("exit = %d, want %d", r.exit, tc.exit)
			}
		})
	}
}

func TestStreamOrder(t *testing.T) {
	_, a := connect(t)
	r := a.code("import sys\nfor i in range(50):\n    print('o', i)\n    print('e', i, file=sys.stderr)")
	// Coalescing may merge adjacent text of one stream, never reorder.
	var got []string
	for _, it := range r.items {
		if n := len(got); n > 0 && strings.HasPrefix(got[n-1], it.Op+":") {
			got[n-1] += string(it.Payload)
			continue
		}
		got = append(got, it.Op+":"+string(it.Payload))
	}
	var want []string
	for i := 0; i < 50; i++ {
		want = append(want, fmt.Sprintf("stdout:o %d\n", i), fmt.Sprintf("stderr:e %d\n", i))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("interleaving lost:\n got %q\nwant %q", got, want)
	}
}

func TestStreamingIsLive(t *testing.T) {
	_, a := connect(t)
	a.send(kproto.OpCode, "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')")
	start := time.Now()
	m := a.expect(kproto.OpStdout)
	if string(m.Payload) != "first\n" {
		t.Fatalf("first chunk %q", m.Payload)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("first output took %v: not streamed", el)
	}
	r := a.collect(kproto.OpFinished, nil)
	if r.stdout != "second\n" || r.exit != 0 {
		t.Fatalf("rest %+v", r)
	}
}

func TestInterrupt(t *testing.T) {
	_, a := connect(t)
	a.code("x = 5")
	// An interrupt while idle must not hurt the REPL.
	a.send(kproto.OpInterrupt, "")
	a.send(kproto.OpCode, "print('spinning', flush=True)\nwhile True: pass")
	if m := a.expect(kproto.OpStdout); string(m.Payload) != "spinning\n" {
		t.Fatalf("got %q", m.Payload)
	}
	// A second run while one is in flight is refused.
	a.send(kproto.OpCode, "print('nope')")
	if m := a.expect(kproto.OpRunnerError); !strings.Contains(string(m.Payload), "already in progress") {
		t.Fatalf("runner-error %q", m.Payload)
	}
	a.send(kproto.OpStatus, "")
	if m := a.expect(kproto.OpRunnerStatus); !strings.Contains(string(m.Payload), "busy") {
		t.Fatalf("status while running: %q", m.Payload)
	}
	a.send(kproto.OpComplete, `{"code":"pri"}`)
	if m := a.expect(kproto.OpCompletion); string(m.Payload) != "[]" {
		t.Fatalf("completion while running: %q", m.Payload)
	}
	a.send(kproto.OpInterrupt, "")
	r := a.collect(kproto.OpFinished, nil)
	if r.exit == 0 || !strings.Contains(r.stderr, "KeyboardInterrupt") {
		t.Fatalf("interrupted run: %+v", r)
	}
	if r := a.code("x"); r.stdout != "5\n" {
		t.Fatalf("state lost after interrupt: %+v", r)
	}
}

func TestInput(t *testing.T) {
	_, a := connect(t)
	tests := []struct {
		name, src, answer, stdout string
		password                  bool
	}{
		{name: "input", src: "name = input('who? ')\nprint('hi', name)", answer: "bob", stdout: "who? hi bob\n"},
		{name: "getpass", src: "import getpass\npw = getpass.getpass('pw: ')\nprint(len(pw))", answer: "secret", stdout: "pw: 6\n", password: true},
		{name: "sys.stdin", src: "import sys\nprint(sys.stdin.readline().upper(), end='')", answer: "abc", stdout: "ABC\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			a.send(kproto.OpCode, tc.src)
			asked := false
			r := a.collect(kproto.OpFinished, func(m kproto.Msg) {
				if m.Op != kproto.OpWaitingInput {
					t.Fatalf("unexpected %s", m.Op)
				}
				var wi kproto.WaitingInput
				if err := json.Unmarshal(m.Payload, &wi); err != nil {
					t.Fatal(err)
				}
				if wi.IsPassword != tc.password {
					t.Errorf("is_password = %v", wi.IsPassword)
				}
				asked = true
				a.send(kproto.OpInput, tc.answer)
			})
			if !asked || r.stdout != tc.stdout || r.exit != 0 {
				t.Fatalf("asked=%v result %+v", asked, r)
			}
		})
	}
	t.Run("interrupt while waiting", func(t *testing.T) {
		a.t = t
		a.send(kproto.OpCode, "input('> ')")
		a.expect(kproto.OpWaitingInput)
		a.send(kproto.OpInterrupt, "")
		r := a.collect(kproto.OpFinished, nil)
		if r.exit == 0 || !strings.Contains(r.stderr, "KeyboardInterrupt") {
			t.Fatalf("%+v", r)
		}
		if r := a.code("print('alive')"); r.stdout != "alive\n" {
			t.Fatalf("%+v", r)
		}
	})
}

func TestBatch(t *testing.T) {
	tr, a := connect(t)
	if err := os.WriteFile(filepath.Join(tr.cfg.WorkDir, "main.py"), []byte("print('main ran')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, op, payload, fin, stdout, stderr string
		exit                                   int
	}{
		{name: "exec", op: kproto.OpExec, payload: "echo hi; echo err >&2; exit 3", fin: kproto.OpFinished, stdout: "hi\n", stderr: "err\n", exit: 3},
		{name: "clean skip", op: kproto.OpClean, payload: "", fin: kproto.OpCleanFinished},
		{name: "clean default", op: kproto.OpClean, payload: "*", fin: kproto.OpCleanFinished},
		{name: "build default", op: kproto.OpBuild, payload: "*", fin: kproto.OpBuildFinished},
		{name: "build fails", op: kproto.OpBuild, payload: "false", fin: kproto.OpBuildFinished, exit: 1},
		{name: "exec default", op: kproto.OpExec, payload: "*", fin: kproto.OpFinished, stdout: "main ran\n"},
		{name: "runs in work dir", op: kproto.OpExec, payload: "ls main.py", fin: kproto.OpFinished, stdout: "main.py\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			a.send(tc.op, tc.payload)
			r := a.collect(tc.fin, nil)
			if r.stdout != tc.stdout || r.stderr != tc.stderr || r.exit != tc.exit {
				t.Fatalf("got %+v", r)
			}
		})
	}
	t.Run("interrupt kills the group", func(t *testing.T) {
		a.t = t
		start := time.Now()
		a.send(kproto.OpExec, "echo go; sleep 30 & sleep 30")
		a.expect(kproto.OpStdout)
		a.send(kproto.OpInterrupt, "")
		r := a.collect(kproto.OpFinished, nil)
		if r.exit != 137 || time.Since(start) > 10*time.Second {
			t.Fatalf("got %+v after %v", r, time.Since(start))
		}
	})
}

func TestUTF8Split(t *testing.T) {
	_, a := connect(t)
	const unit = "가나다é😀"
	want := strings.Repeat(unit, 3000)
	tests := []struct{ name, src string }{
		{name: "raw fd in 7-byte writes", src: "import os\nb = ('" + unit + "' * 3000).encode()\nfor i in range(0, len(b), 7):\n    os.write(1, b[i:i+7])"},
		{name: "sys.stdout.buffer in 5-byte writes", src: "import sys\nb = ('" + unit + "' * 3000).encode()\nfor i in range(0, len(b), 5):\n    sys.stdout.buffer.write(b[i:i+5])"},
		{name: "print with flushes", src: "for i in range(3000):\n    print('" + unit + "', end='', flush=True)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			r := a.code(tc.src)
			if r.stdout != want {
				t.Fatalf("stdout differs: %d bytes, want %d (stderr %q)", len(r.stdout), len(want), r.stderr)
			}
		})
	}
	t.Run("invalid bytes", func(t *testing.T) {
		a.t = t
		r := a.code("import os\n_ = os.write(1, b'a\\xffb\\xe2')")
		if r.stdout != "a\uFFFDb\uFFFD" {
			t.Fatalf("stdout %q", r.stdout)
		}
	})
}

func TestCoalescing(t *testing.T) {
	_, a := connect(t)
	r := a.code("for i in range(100000):\n    print(i)")
	if !strings.HasSuffix(r.stdout, "99999\n") || strings.Count(r.stdout, "\n") != 100000 {
		t.Fatalf("output damaged: %d bytes", len(r.stdout))
	}
	t.Logf("100000 prints arrived in %d messages", len(r.items))
	if len(r.items) > 5000 {
		t.Fatalf("%d messages for 100000 prints: not coalesced", len(r.items))
	}
}

func TestLargeOutput(t *testing.T) {
	_, a := connect(t)
	r := a.code("print('é' * 3_000_000)")
	if r.stdout != strings.Repeat("é", 3_000_000)+"\n" {
		t.Fatalf("stdout damaged: %d bytes", len(r.stdout))
	}
	for _, it := range r.items {
		if len(it.Payload) > 64<<10 {
			t.Fatalf("a %d-byte message: huge output is not split", len(it.Payload))
		}
	}
}

func TestComplete(t *testing.T) {
	_, a := connect(t)
	a.code("import os\nmy_variable = 1")
	tests := []struct {
		name, payload string
		has           string
		empty         bool
	}{
		{name: "attribute", payload: `{"code":"os.pa"}`, has: "os.path"},
		{name: "name", payload: `{"code":"x = my_va"}`, has: "my_variable"},
		{name: "bare text", payload: "my_v", has: "my_variable"},
		{name: "nothing", payload: `{"code":"zzzq"}`, empty: true},
		{name: "empty", payload: `{"code":""}`, empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			a.send(kproto.OpComplete, tc.payload)
			m := a.expect(kproto.OpCompletion)
			var got []string
			if err := json.Unmarshal(m.Payload, &got); err != nil {
				t.Fatalf("payload %q: %v", m.Payload, err)
			}
			if tc.empty && (got == nil || len(got) != 0) {
				t.Fatalf("want [], got %q", m.Payload)
			}
			if tc.has != "" && !contains(got, tc.has) {
				t.Fatalf("%q lacks %q", got, tc.has)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestPythonDeath(t *testing.T) {
	_, a := connect(t)
	a.code("x = 1")
	r := a.code("import os; print('bye', flush=True); os._exit(7)")
	if r.exit != 7 || r.stdout != "bye\n" || !strings.Contains(r.stderr, "exited with code 7") {
		t.Fatalf("%+v", r)
	}
	r = a.code("import signal, os; os.kill(os.getpid(), signal.SIGKILL)")
	if r.exit != 137 || !strings.Contains(r.stderr, "signal 9") {
		t.Fatalf("%+v", r)
	}
	r = a.code("print('fresh'); print('x' in globals())")
	if r.stdout != "fresh\nFalse\n" || r.exit != 0 {
		t.Fatalf("%+v", r)
	}

	// Killed from outside while idle: the next run starts a fresh REPL.
	pid := strings.TrimSpace(a.code("import os; print(os.getpid())").stdout)
	a.send(kproto.OpExec, "kill -9 "+pid)
	if r := a.collect(kproto.OpFinished, nil); r.exit != 0 {
		t.Fatalf("kill: %+v", r)
	}
	deadline := time.Now().Add(waitLong)
	var notices strings.Builder
	for {
		r := a.code("print('again')")
		notices.WriteString(r.stderr)
		if r.exit == 0 && r.stdout == "again\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("REPL did not come back: %+v", r)
		}
	}
	if !strings.Contains(notices.String(), "fresh one") {
		t.Errorf("no notice about the restart: %q", notices.String())
	}
}

func TestMalformed(t *testing.T) {
	_, a := connect(t)
	if err := a.push.Send(zmq4.NewMsgFrom([]byte("code"), []byte("print(1)"), []byte("extra"))); err != nil {
		t.Fatal(err)
	}
	a.expect(kproto.OpRunnerError)
	a.send("no-such-op", "")
	if m := a.expect(kproto.OpRunnerError); !strings.Contains(string(m.Payload), "no-such-op") {
		t.Fatalf("%q", m.Payload)
	}
	if r := a.code("print(2)"); r.stdout != "2\n" {
		t.Fatalf("%+v", r)
	}
}

func TestAgentReconnect(t *testing.T) {
	tr, a := connect(t)
	a.code("x = 'kept'")
	a.close()

	b := dialAgent(t, tr.cfg.IPCDir)
	// The first sends after the old peer vanished may be lost; the agent
	// pings with status until it hears back.
	deadline := time.Now().Add(waitLong)
	for {
		b.send(kproto.OpStatus, "")
		select {
		case m := <-b.msgs:
			if m.Op != kproto.OpRunnerStatus {
				t.Fatalf("got %s", m.Op)
			}
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no status from the runner after reconnecting")
			}
			continue
		}
		break
	}
	if r := b.code("print(x)"); r.stdout != "kept\n" {
		t.Fatalf("%+v", r)
	}
}

func TestBatchOnlyRuntime(t *testing.T) {
	tr := startRunner(t, "cobol")
	a := dialAgent(t, tr.cfg.IPCDir)
	a.expect(kproto.OpReady)
	r := a.code("DISPLAY 'HI'.")
	if r.exit == 0 || !strings.Contains(r.stderr, "not supported") {
		t.Fatalf("%+v", r)
	}
	a.send(kproto.OpExec, "echo c")
	if r := a.collect(kproto.OpFinished, nil); r.stdout != "c\n" {
		t.Fatalf("%+v", r)
	}
}
