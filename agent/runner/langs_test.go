package runner_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/kproto"
)

// langCase is one language's check: state kept between query runs (REPL
// languages), a failing run, a program reading stdin, and an interrupt.
type langCase struct {
	lang, bin string
	set, get  string // get must print "5\n" after set (REPL languages only)
	fail      string // must end with a non-zero exit code
	input     string // reads one line and prints "got <line>\n"
	spin      string // prints "spinning\n", then loops forever
	spinExit  int    // exit code of the interrupted spin (0: any non-zero)
}

var langCases = []langCase{
	{lang: "bash", bin: "bash", set: "x=5", get: "echo $x", fail: "echo oops >&2; false",
		input: `read -r v; echo "got $v"`, spin: "echo spinning; while :; do :; done", spinExit: 130},
	{lang: "nodejs", bin: "node", set: "var x = 5", get: "console.log(x)", fail: "throw new Error('boom')",
		input: "{ const b = Buffer.alloc(100); const n = require('fs').readSync(0, b, 0, 100, null); console.log('got ' + b.toString('utf8', 0, n).trim()) }",
		spin:  "console.log('spinning'); while (true) {}", spinExit: 130},
	{lang: "perl", bin: "perl", set: "$x = 5;", get: `print "$x\n";`, fail: `die "boom\n";`,
		input: `my $v = <STDIN>; chomp $v; print "got $v\n";`, spin: `print "spinning\n"; 1 while 1;`, spinExit: 130},
	{lang: "ruby", bin: "ruby", set: "x = 5", get: "puts x", fail: "raise 'boom'",
		input: `puts "got #{gets.chomp}"`, spin: "puts 'spinning'; loop {}", spinExit: 130},
	{lang: "php", bin: "php", set: "$x = 5;", get: `echo "$x\n";`, fail: "throw new Exception('boom');",
		input: `$v = trim(fgets(STDIN)); echo "got $v\n";`, spin: `echo "spinning\n"; while (true) {}`},
	{lang: "lua", bin: "lua5.4", set: "x = 5", get: "print(x)", fail: "error('boom')",
		input: `print("got " .. io.read("l"))`, spin: `print("spinning") while true do end`, spinExit: 130},
	{lang: "r", bin: "Rscript", set: "x <- 5", get: "cat(x, '\\n', sep='')", fail: "stop('boom')",
		input: `cat("got ", readLines(file("stdin"), n = 1), "\n", sep = "")`, spin: `cat("spinning\n"); repeat {}`},
	{lang: "scheme", bin: "guile", set: "(define x 5)", get: `(display x) (newline)`, fail: "(error \"boom\")",
		input: `(use-modules (ice-9 rdelim)) (display (string-append "got " (read-line))) (newline)`,
		spin:  `(display "spinning\n") (let loop () (loop))`, spinExit: 130},
	{lang: "octave", bin: "octave-cli", set: "x = 5;", get: "printf('%d\\n', x)", fail: "error('boom')",
		input: `x = input('', 's'); printf('got %s\n', x)`, spin: "disp('spinning'); while true; end"},
	{lang: "c", bin: "gcc", fail: "int main() { return x; }",
		input: "#include <stdio.h>\nint main() { char b[100]; if (!fgets(b, sizeof b, stdin)) return 2; printf(\"got %s\", b); return 0; }",
		spin:  "#include <stdio.h>\nint main() { puts(\"spinning\"); fflush(stdout); for (;;); }", spinExit: 137},
	{lang: "cpp", bin: "g++", fail: "int main() { return x; }",
		input: "#include <iostream>\n#include <string>\nint main() { std::string s; std::getline(std::cin, s); std::cout << \"got \" << s << std::endl; }",
		spin:  "#include <iostream>\nint main() { std::cout << \"spinning\" << std::endl; for (;;); }", spinExit: 137},
	{lang: "go", bin: "go", fail: "package main\nfunc main() { x }",
		input: "package main\nimport \"fmt\"\nfunc main() { var s string; fmt.Scanln(&s); fmt.Println(\"got\", s) }",
		spin:  "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"spinning\"); for {} }", spinExit: 137},
	{lang: "java", bin: "javac", fail: "public class Main { public static void main(String[] a) { x(); } }",
		input: "import java.util.Scanner;\npublic class Hello { public static void main(String[] a) { System.out.println(\"got \" + new Scanner(System.in).nextLine()); } }",
		spin:  "public class Main { public static void main(String[] a) { System.out.println(\"spinning\"); while (true) {} } }", spinExit: 137},
	{lang: "rust", bin: "rustc", fail: "fn main() { x }",
		input: "fn main() { let mut s = String::new(); std::io::stdin().read_line(&mut s).unwrap(); println!(\"got {}\", s.trim()); }",
		spin:  "fn main() { println!(\"spinning\"); loop {} }", spinExit: 137},
	{lang: "haskell", bin: "ghc", fail: "main = x",
		input: "main = getLine >>= \\s -> putStrLn (\"got \" ++ s)",
		spin:  "import System.IO\nmain = hSetBuffering stdout LineBuffering >> putStrLn \"spinning\" >> let loop n = loop (n + 1 :: Integer) in loop 0", spinExit: 137},
}

func TestLanguages(t *testing.T) {
	for _, tc := range langCases {
		t.Run(tc.lang, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s is not installed on this machine; the e2e tests cover %s in its image", tc.bin, tc.lang)
			}
			tr := startRunnerPath(t, tc.lang, "")
			a := dialAgent(t, tr.cfg.IPCDir)
			a.expect(kproto.OpReady)
			if tc.set != "" {
				if r := a.code(tc.set); r.exit != 0 {
					t.Fatalf("set: %q %q exit %d", r.stdout, r.stderr, r.exit)
				}
				if r := a.code(tc.get); r.stdout != "5\n" || r.exit != 0 {
					t.Fatalf("get: %q %q exit %d", r.stdout, r.stderr, r.exit)
				}
			}
			if r := a.code(tc.fail); r.exit == 0 || r.stderr == "" {
				t.Fatalf("fail: %q %q exit %d", r.stdout, r.stderr, r.exit)
			}
			a.send(kproto.OpCode, tc.input)
			asked := 0
			r := a.collect(kproto.OpFinished, func(m kproto.Msg) {
				if m.Op != kproto.OpWaitingInput {
					t.Fatalf("unexpected %s %q", m.Op, m.Payload)
				}
				asked++
				a.send(kproto.OpInput, "hello")
			})
			if asked != 1 || r.stdout != "got hello\n" || r.exit != 0 {
				t.Fatalf("input: asked %d times, %q %q exit %d", asked, r.stdout, r.stderr, r.exit)
			}
			a.send(kproto.OpCode, tc.spin)
			for {
				m := a.expect(kproto.OpStdout)
				if strings.Contains(string(m.Payload), "spinning") {
					break
				}
			}
			time.Sleep(100 * time.Millisecond) // let the loop start spinning; nothing to poll for
			start := time.Now()
			a.send(kproto.OpInterrupt, "")
			r = a.collect(kproto.OpFinished, nil)
			if r.exit == 0 || (tc.spinExit != 0 && r.exit != tc.spinExit) {
				t.Fatalf("interrupt: %q %q exit %d", r.stdout, r.stderr, r.exit)
			}
			t.Logf("interrupt took %v, exit %d, stderr %q", time.Since(start), r.exit, r.stderr)
			// An interrupt while the program waits for input ends the run too.
			a.send(kproto.OpCode, tc.input)
			a.expect(kproto.OpWaitingInput)
			start = time.Now()
			a.send(kproto.OpInterrupt, "")
			r = a.collect(kproto.OpFinished, nil)
			if r.exit == 0 {
				t.Fatalf("interrupt while waiting: %q %q exit %d", r.stdout, r.stderr, r.exit)
			}
			t.Logf("interrupt while waiting took %v, exit %d, stderr %q", time.Since(start), r.exit, r.stderr)
			if tc.set != "" {
				if r := a.code(tc.set); r.exit != 0 {
					t.Fatalf("set again: %q %q exit %d", r.stdout, r.stderr, r.exit)
				}
				r := a.code(tc.get)
				if strings.Contains(r.stderr, "state is lost") {
					t.Logf("state lost after interrupt: %q", r.stderr)
				} else if r.stdout != "5\n" {
					t.Fatalf("after interrupt: %q %q exit %d", r.stdout, r.stderr, r.exit)
				}
			}
		})
	}
}

func TestPythonMedia(t *testing.T) {
	_, a := connect(t)
	src := "import __bai__\nprint('a')\n__bai__.emit('image/svg+xml', '<svg/>')\nprint('b')\n__bai__.emit_html('<b>x</b>')\n" +
		"class T:\n    def _repr_html_(self):\n        return '<i>t</i>'\nT()"
	a.send(kproto.OpCode, src)
	var seq []string
	for {
		m := a.recv()
		if m.Op == kproto.OpFinished {
			break
		}
		seq = append(seq, m.Op+":"+string(m.Payload))
	}
	want := []string{"stdout:a\n", `media:{"type":"image/svg+xml","data":"<svg/>"}`, "stdout:b\n", "html:<b>x</b>", "html:<i>t</i>"}
	if strings.Join(seq, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", seq)
	}
	if r := a.code("import __bai__; print(callable(__bai__.emit))"); r.stdout != "True\n" {
		t.Fatalf("%q %q", r.stdout, r.stderr)
	}
}

func TestBashComplete(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed on this machine")
	}
	tr := startRunnerPath(t, "bash", "")
	a := dialAgent(t, tr.cfg.IPCDir)
	a.expect(kproto.OpReady)
	a.code("my_func_one() { :; }")
	a.send(kproto.OpComplete, `{"code":"echo my_func_"}`)
	if m := a.expect(kproto.OpCompletion); string(m.Payload) != `["my_func_one"]` {
		t.Fatalf("completion %q", m.Payload)
	}
}

func TestBatchDefaultsWithInput(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed on this machine")
	}
	tr := startRunnerPath(t, "c", "")
	a := dialAgent(t, tr.cfg.IPCDir)
	a.expect(kproto.OpReady)
	src := "#include <stdio.h>\nint main() { char b[64]; fgets(b, sizeof b, stdin); printf(\"got %s\", b); return 4; }\n"
	if err := os.WriteFile(filepath.Join(tr.cfg.WorkDir, "main.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	a.send(kproto.OpBuild, "*")
	if r := a.collect(kproto.OpBuildFinished, nil); r.exit != 0 {
		t.Fatalf("build: %q %q %d", r.stdout, r.stderr, r.exit)
	}
	a.send(kproto.OpExec, "*")
	asked := 0
	r := a.collect(kproto.OpFinished, func(m kproto.Msg) {
		if m.Op != kproto.OpWaitingInput {
			t.Fatalf("unexpected %s", m.Op)
		}
		asked++
		a.send(kproto.OpInput, "x")
	})
	if asked != 1 || r.stdout != "got x\n" || r.exit != 4 {
		t.Fatalf("exec: asked %d, %q %q %d", asked, r.stdout, r.stderr, r.exit)
	}
}

// TestPromptBeforeWaitingInput checks that a prompt written without a
// newline reaches the agent before the waiting-input message.
func TestPromptBeforeWaitingInput(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed on this machine")
	}
	tr := startRunnerPath(t, "bash", "")
	a := dialAgent(t, tr.cfg.IPCDir)
	a.expect(kproto.OpReady)
	for _, op := range []string{kproto.OpCode, kproto.OpExec} {
		seq := runAnswering(a, op, `printf 'name? '; read -r v; echo "got $v"`, "ann")
		want := `stdout:name? |waiting-input:{"is_password":false}|stdout:got ann` + "\n"
		if strings.Join(seq, "|") != want {
			t.Fatalf("%s: got %q", op, seq)
		}
	}
}

// orderCases write out1 (stdout), err1 (stderr), out2 (stdout) 20 times,
// flushing each write, in the languages whose helper sends the standard
// streams as tagged records over one channel.
var orderCases = []struct{ lang, bin, src, err string }{
	{"nodejs", "node", `for (let i = 0; i < 20; i++) { process.stdout.write('out1\n'); console.error('err1'); console.log('out2'); }`, ""},
	{"ruby", "ruby", `20.times { print "out1\n"; $stdout.flush; STDERR.puts "err1"; $stderr.flush; $stdout.write "out2\n"; STDOUT.flush }`, ""},
	{"perl", "perl", `for (1..20) { print "out1\n"; print STDERR "err1\n"; printf "%s\n", "out2"; }`, ""},
	{"lua", "lua5.4", `for i = 1, 20 do io.write("out1\n") io.stdout:flush() io.stderr:write("err1\n") print("out2") end`, ""},
	{"scheme", "guile", `(let loop ((i 0)) (when (< i 20) (display "out1\n") (force-output) (display "err1\n" (current-error-port)) (display "out2") (newline) (force-output) (loop (+ i 1))))`, ""},
	{"php", "php", `for ($i = 0; $i < 20; $i++) { echo "out1\n"; trigger_error("err1", E_USER_WARNING); print("out2\n"); }`, "Warning: err1 in <cell> on line 1\n"},
	{"python", "python3", "import sys\nfor i in range(20):\n    print('out1', flush=True); print('err1', file=sys.stderr, flush=True); sys.stdout.write('out2\\n'); sys.stdout.flush()", ""},
}

// mergeItems joins adjacent stream items of the same op, so that the
// emitter's coalescing does not matter, and renders them as "op:text".
func mergeItems(items []kproto.Msg) []string {
	var seq []string
	last := ""
	for _, m := range items {
		if m.Op == last {
			seq[len(seq)-1] += string(m.Payload)
			continue
		}
		seq = append(seq, m.Op+":"+string(m.Payload))
		last = m.Op
	}
	return seq
}

func TestStreamOrderLanguages(t *testing.T) {
	for _, tc := range orderCases {
		t.Run(tc.lang, func(t *testing.T) {
			errText := tc.err
			if errText == "" {
				errText = "err1\n"
			}
			var want []kproto.Msg
			for i := 0; i < 20; i++ {
				want = append(want, kproto.Msg{Op: kproto.OpStdout, Payload: []byte("out1\n")},
					kproto.Msg{Op: kproto.OpStderr, Payload: []byte(errText)},
					kproto.Msg{Op: kproto.OpStdout, Payload: []byte("out2\n")})
			}
			wantSeq := strings.Join(mergeItems(want), "|")
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s is not installed on this machine; run the test binary in the bai/%s image", tc.bin, tc.lang)
			}
			tr := startRunnerPath(t, tc.lang, "")
			a := dialAgent(t, tr.cfg.IPCDir)
			a.expect(kproto.OpReady)
			for run := 0; run < 5; run++ {
				r := a.code(tc.src)
				if got := strings.Join(mergeItems(r.items), "|"); got != wantSeq || r.exit != 0 {
					t.Fatalf("run %d: exit %d, order\n got %q\nwant %q", run, r.exit, got, wantSeq)
				}
			}
		})
	}
}

func TestSchemeExit(t *testing.T) {
	if _, err := exec.LookPath("guile"); err != nil {
		t.Skip("guile is not installed on this machine; run the test binary in the bai/scheme image")
	}
	tr := startRunnerPath(t, "scheme", "")
	a := dialAgent(t, tr.cfg.IPCDir)
	a.expect(kproto.OpReady)
	for _, tc := range []struct {
		src  string
		exit int
	}{
		{`(define y 7) (display "a\n") (exit 3) (display "not reached\n")`, 3},
		{`(display "b\n") (exit)`, 0},
		{`(exit #f)`, 1},
	} {
		r := a.code(tc.src)
		if r.exit != tc.exit || r.stderr != "" || strings.Contains(r.stdout, "not reached") {
			t.Fatalf("%s: exit %d, %q %q", tc.src, r.exit, r.stdout, r.stderr)
		}
	}
	// The REPL goes on, with its state.
	if r := a.code(`(display y) (newline)`); r.stdout != "7\n" || r.exit != 0 {
		t.Fatalf("after exit: %q %q exit %d", r.stdout, r.stderr, r.exit)
	}
}

// TestTaggedStreamsMore checks other ways of writing to the replaced
// streams: big writes, non-ASCII text and the languages' warning helpers.
func TestTaggedStreamsMore(t *testing.T) {
	want := "é€" + strings.Repeat("x", 100000) + "\n"
	cases := []struct{ lang, bin, src, stderr string }{
		{"nodejs", "node", `console.log('é€' + 'x'.repeat(100000)); console.warn('w')`, "w\n"},
		{"ruby", "ruby", `puts "é€" + "x" * 100000; warn "w"`, "w\n"},
		{"perl", "perl", `use utf8; print "é€" . ("x" x 100000) . "\n"; warn "w\n";`, "w\n"},
		{"lua", "lua5.4", `print("é€" .. string.rep("x", 100000)) io.stderr:write("w", "\n")`, "w\n"},
		{"scheme", "guile", `(display (string-append "é€" (make-string 100000 #\x))) (newline) (display "w\n" (current-error-port))`, "w\n"},
		{"php", "php", `echo "é€" . str_repeat("x", 100000) . "\n"; fwrite(STDERR, "w\n");`, "w\n"},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s is not installed on this machine; run the test binary in the bai/%s image", tc.bin, tc.lang)
			}
			tr := startRunnerPath(t, tc.lang, "")
			a := dialAgent(t, tr.cfg.IPCDir)
			a.expect(kproto.OpReady)
			r := a.code(tc.src)
			if r.stdout != want || r.stderr != tc.stderr || r.exit != 0 {
				t.Fatalf("exit %d, stderr %q, stdout %d bytes (want %d) starting %q", r.exit, r.stderr, len(r.stdout), len(want), r.stdout[:min(len(r.stdout), 20)])
			}
		})
	}
}

// TestTaggedPromptBeforeWaitingInput checks that a prompt sent as a tagged
// record reaches the agent before the waiting-input message.
func TestTaggedPromptBeforeWaitingInput(t *testing.T) {
	cases := []struct{ lang, bin, src string }{
		{"nodejs", "node", "process.stdout.write('name? '); { const b = Buffer.alloc(100); const n = require('fs').readSync(0, b, 0, 100, null); console.log('got ' + b.toString('utf8', 0, n).trim()) }"},
		{"ruby", "ruby", `print "name? "; puts "got #{gets.chomp}"`},
		{"perl", "perl", `print "name? "; my $v = <STDIN>; chomp $v; print "got $v\n";`},
		{"lua", "lua5.4", `io.write("name? ") print("got " .. io.read("l"))`},
		{"php", "php", `echo "name? "; $v = trim(fgets(STDIN)); echo "got $v\n";`},
		{"scheme", "guile", `(use-modules (ice-9 rdelim)) (display "name? ") (display (string-append "got " (read-line))) (newline)`},
	}
	for _, tc := range cases {
		t.Run(tc.lang, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s is not installed on this machine; run the test binary in the bai/%s image", tc.bin, tc.lang)
			}
			tr := startRunnerPath(t, tc.lang, "")
			a := dialAgent(t, tr.cfg.IPCDir)
			a.expect(kproto.OpReady)
			seq := runAnswering(a, kproto.OpCode, tc.src, "ann")
			want := `stdout:name? |waiting-input:{"is_password":false}|stdout:got ann` + "\n"
			if strings.Join(seq, "|") != want {
				t.Fatalf("got %q", seq)
			}
		})
	}
}

// runAnswering sends one run and returns its messages up to finished as
// "op:payload", answering every waiting-input with answer.
func runAnswering(a *agentConn, op, src, answer string) []string {
	a.send(op, src)
	var seq []string
	for {
		m := a.recv()
		if m.Op == kproto.OpFinished {
			return seq
		}
		seq = append(seq, m.Op+":"+string(m.Payload))
		if m.Op == kproto.OpWaitingInput {
			a.send(kproto.OpInput, answer)
		}
	}
}
