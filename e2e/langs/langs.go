// Package langs is the table of kernel languages that the end-to-end
// conformance tests and the benchmark share: for every language of the
// issue-3 contract, its image, and small programs (hello, stdin, errors,
// loops, a two-file batch project) written the idiomatic way, with what a
// client must see when it runs them.
package langs

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// Lang is one kernel language and its test programs. Query-mode snippets
// are whole programs for compiled languages and scripts for interpreted
// ones.
type Lang struct {
	// Key is the runtime type (label ai.backend.runtime-type) and the image
	// alias used to create sessions, e.g. "c".
	Key string
	// Image is the canonical image name of the contract, e.g.
	// "c:gcc12-debian"; the docker reference is "bai/" + Image.
	Image string
	// Compiled tells whether query code is compiled before it runs.
	Compiled bool
	// REPL tells whether query mode keeps a live interpreter whose round
	// trip the benchmark measures.
	REPL bool

	// Hello prints exactly "hello\n".
	Hello string
	// Order writes out1 to stdout, err1 to stderr, out2 to stdout, flushing.
	Order string
	// Input prompts, reads one line (a number) and prints twice its value.
	Input string
	// Broken fails to compile (or parse).
	Broken string
	// Exit3 ends the program with exit code 3.
	Exit3 string
	// Loop prints "looping\n" and then spins forever.
	Loop string
	// Sleep waits about ten seconds and prints nothing.
	Sleep string
	// Trivial is a cheap statement for the round-trip benchmark.
	Trivial string

	// Project is a two-file batch project printing "sum 5\n" when built
	// and executed with the defaults.
	Project map[string]string
	// BrokenProject overwrites files of Project so the default build fails;
	// nil for interpreted languages, whose failing build is BrokenBuild.
	BrokenProject map[string]string
	// BrokenBuild is the explicit failing build command used when
	// BrokenProject is nil.
	BrokenBuild string

	// Ext and Run give the docker baseline: the Hello program is written to
	// /tmp/main.Ext (from stdin) and Run (a sh command in /tmp) runs it.
	Ext string
	Run string
}

// DockerRef is the docker reference of the contract image.
func (l Lang) DockerRef() string { return "bai/" + l.Image }

// BaselineCommand is the docker run argument list (after the image) that
// builds and runs the Hello program read from stdin.
func (l Lang) BaselineCommand() []string {
	return []string{"sh", "-c", "cd /tmp && cat > main." + l.Ext + " && " + l.Run}
}

// All returns the contract languages in a stable order.
func All() []Lang {
	out := make([]Lang, len(table))
	copy(out, table)
	return out
}

// ByKey returns the language with the key.
func ByKey(key string) (Lang, bool) {
	for _, l := range table {
		if l.Key == key {
			return l, true
		}
	}
	return Lang{}, false
}

// Keys lists the language keys.
func Keys() []string {
	out := make([]string, 0, len(table))
	for _, l := range table {
		out = append(out, l.Key)
	}
	return out
}

// LocalImages maps each runtime type to the bai/ images present in the
// local Docker engine that carry its label (sorted references).
func LocalImages(ctx context.Context) (map[string][]string, error) {
	out, err := exec.CommandContext(ctx, "docker", "image", "ls", "--filter", "label=ai.backend.runtime-type",
		"--format", `{{.Repository}}:{{.Tag}}`).Output()
	if err != nil {
		return nil, fmt.Errorf("docker image ls: %w", err)
	}
	refs := strings.Fields(string(out))
	m := map[string][]string{}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "bai/") || strings.HasSuffix(ref, ":<none>") {
			continue
		}
		lbl, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format",
			`{{index .Config.Labels "ai.backend.runtime-type"}}`, ref).Output()
		if err != nil {
			continue
		}
		key := strings.TrimSpace(string(lbl))
		m[key] = append(m[key], ref)
	}
	for k := range m {
		sort.Strings(m[k])
	}
	return m, nil
}

var table = []Lang{
	{
		Key: "python", Image: "python:3.11-debian", REPL: true,
		Hello:   `print("hello")`,
		Order:   "import sys\nprint(\"out1\", flush=True)\nprint(\"err1\", file=sys.stderr, flush=True)\nprint(\"out2\", flush=True)\n",
		Input:   "n = input(\"number? \")\nprint(int(n) * 2)\n",
		Broken:  "def f(:\n    pass\n",
		Exit3:   "import sys\nsys.exit(3)\n",
		Loop:    "print(\"looping\", flush=True)\nwhile True:\n    pass\n",
		Sleep:   "import time\ntime.sleep(10)\n",
		Trivial: "x = 1",
		Project: map[string]string{
			"main.py": "from util import add\nprint(\"sum\", add(2, 3))\n",
			"util.py": "def add(a, b):\n    return a + b\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "py", Run: "python3 main.py",
	},
	{
		Key: "c", Image: "c:gcc12-debian", Compiled: true,
		Hello: `#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
`,
		Order: `#include <stdio.h>
int main(void) {
	printf("out1\n"); fflush(stdout);
	fprintf(stderr, "err1\n"); fflush(stderr);
	printf("out2\n"); fflush(stdout);
	return 0;
}
`,
		Input: `#include <stdio.h>
int main(void) {
	int n;
	printf("number? "); fflush(stdout);
	if (scanf("%d", &n) != 1) return 1;
	printf("%d\n", n * 2);
	return 0;
}
`,
		Broken: "int main(void { return 0; }\n",
		Exit3: `#include <stdlib.h>
int main(void) { exit(3); }
`,
		Loop: `#include <stdio.h>
int main(void) {
	volatile unsigned long n = 0;
	printf("looping\n"); fflush(stdout);
	for (;;) n++;
}
`,
		Sleep: `#include <unistd.h>
int main(void) { sleep(10); return 0; }
`,
		Project: map[string]string{
			"main.c":   "#include <stdio.h>\nint add(int a, int b);\nint main(void) { printf(\"sum %d\\n\", add(2, 3)); return 0; }\n",
			"util.c":   "int add(int a, int b) { return a + b; }\n",
			"Makefile": "main: main.c util.c\n\tgcc -O2 -o main main.c util.c\n",
		},
		BrokenProject: map[string]string{"main.c": "int main(void) { return undefined_name; }\n"},
		Ext:           "c", Run: "gcc -O2 -o main main.c && ./main",
	},
	{
		Key: "cpp", Image: "cpp:gcc12-debian", Compiled: true,
		Hello: `#include <iostream>
int main() { std::cout << "hello" << std::endl; return 0; }
`,
		Order: `#include <iostream>
int main() {
	std::cout << "out1" << std::endl;
	std::cerr << "err1" << std::endl;
	std::cout << "out2" << std::endl;
	return 0;
}
`,
		Input: `#include <iostream>
int main() {
	int n = 0;
	std::cout << "number? " << std::flush;
	if (!(std::cin >> n)) return 1;
	std::cout << n * 2 << std::endl;
	return 0;
}
`,
		Broken: "int main() { return undefined_name }\n",
		Exit3: `#include <cstdlib>
int main() { std::exit(3); }
`,
		Loop: `#include <iostream>
int main() {
	volatile unsigned long n = 0;
	std::cout << "looping" << std::endl;
	for (;;) n = n + 1;
}
`,
		Sleep: `#include <thread>
#include <chrono>
int main() { std::this_thread::sleep_for(std::chrono::seconds(10)); return 0; }
`,
		Project: map[string]string{
			"main.cpp": "#include <iostream>\nint add(int a, int b);\nint main() { std::cout << \"sum \" << add(2, 3) << std::endl; return 0; }\n",
			"util.cpp": "int add(int a, int b) { return a + b; }\n",
			"Makefile": "main: main.cpp util.cpp\n\tg++ -O2 -o main main.cpp util.cpp\n",
		},
		BrokenProject: map[string]string{"main.cpp": "int main() { return undefined_name; }\n"},
		Ext:           "cpp", Run: "g++ -O2 -o main main.cpp && ./main",
	},
	{
		Key: "go", Image: "go:1.19-debian", Compiled: true,
		Hello: `package main

import "fmt"

func main() { fmt.Println("hello") }
`,
		Order: `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("out1")
	fmt.Fprintln(os.Stderr, "err1")
	fmt.Println("out2")
}
`,
		Input: `package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	fmt.Print("number? ")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		os.Exit(1)
	}
	fmt.Println(n * 2)
}
`,
		Broken: "package main\n\nfunc main() { x := }\n",
		Exit3:  "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n",
		Loop: `package main

import "fmt"

func main() {
	fmt.Println("looping")
	for {
	}
}
`,
		Sleep: "package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(10 * time.Second) }\n",
		Project: map[string]string{
			"go.mod":  "module bench/main\n\ngo 1.19\n",
			"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"sum\", add(2, 3)) }\n",
			"util.go": "package main\n\nfunc add(a, b int) int { return a + b }\n",
		},
		BrokenProject: map[string]string{"main.go": "package main\n\nfunc main() { undefinedName() }\n"},
		Ext:           "go", Run: "HOME=/tmp GOCACHE=/tmp/gocache go build -o main main.go && ./main",
	},
	{
		Key: "rust", Image: "rust:1.63-debian", Compiled: true,
		Hello: `fn main() {
    println!("hello");
}
`,
		Order: `use std::io::Write;
fn main() {
    println!("out1");
    std::io::stdout().flush().unwrap();
    eprintln!("err1");
    println!("out2");
    std::io::stdout().flush().unwrap();
}
`,
		Input: `use std::io::Write;
fn main() {
    print!("number? ");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let n: i64 = line.trim().parse().unwrap();
    println!("{}", n * 2);
}
`,
		Broken: "fn main() { let x = ; }\n",
		Exit3:  "fn main() {\n    std::process::exit(3);\n}\n",
		Loop: `fn main() {
    println!("looping");
    let mut n: u64 = 0;
    loop {
        n = n.wrapping_add(1);
        if n == 0 {
            println!("wrapped");
        }
    }
}
`,
		Sleep: "fn main() {\n    std::thread::sleep(std::time::Duration::from_secs(10));\n}\n",
		Project: map[string]string{
			"main.rs": "mod util;\n\nfn main() {\n    println!(\"sum {}\", util::add(2, 3));\n}\n",
			"util.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
		},
		BrokenProject: map[string]string{"main.rs": "mod util;\n\nfn main() {\n    println!(\"sum {}\", util::nothing(2, 3));\n}\n"},
		Ext:           "rs", Run: "rustc -o main main.rs && ./main",
	},
	{
		Key: "java", Image: "java:17-debian", Compiled: true,
		Hello: `public class Main {
    public static void main(String[] args) {
        System.out.println("hello");
    }
}
`,
		Order: `public class Main {
    public static void main(String[] args) {
        System.out.println("out1");
        System.out.flush();
        System.err.println("err1");
        System.err.flush();
        System.out.println("out2");
        System.out.flush();
    }
}
`,
		Input: `import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        System.out.print("number? ");
        System.out.flush();
        Scanner in = new Scanner(System.in);
        int n = in.nextInt();
        System.out.println(n * 2);
    }
}
`,
		Broken: "public class Main {\n    public static void main(String[] args) {\n        int x = ;\n    }\n}\n",
		Exit3:  "public class Main {\n    public static void main(String[] args) {\n        System.exit(3);\n    }\n}\n",
		Loop: `public class Main {
    public static void main(String[] args) {
        System.out.println("looping");
        System.out.flush();
        long n = 0;
        while (true) {
            n++;
        }
    }
}
`,
		Sleep: "public class Main {\n    public static void main(String[] args) throws Exception {\n        Thread.sleep(10000);\n    }\n}\n",
		Project: map[string]string{
			"Main.java": "public class Main {\n    public static void main(String[] args) {\n        System.out.println(\"sum \" + Util.add(2, 3));\n    }\n}\n",
			"Util.java": "public class Util {\n    static int add(int a, int b) {\n        return a + b;\n    }\n}\n",
		},
		BrokenProject: map[string]string{"Util.java": "public class Util {\n    static int add(int a, int b) {\n        return a + ;\n    }\n}\n"},
		Ext:           "java", Run: "mkdir -p /tmp/j && mv main.java j/Main.java && cd j && javac Main.java && java Main",
	},
	{
		Key: "nodejs", Image: "nodejs:18-debian", REPL: true,
		Hello:   `console.log("hello");`,
		Order:   "console.log(\"out1\");\nconsole.error(\"err1\");\nconsole.log(\"out2\");\n",
		Input:   "const fs = require(\"fs\");\nprocess.stdout.write(\"number? \");\nconst buf = Buffer.alloc(64);\nconst n = fs.readSync(0, buf, 0, buf.length, null);\nconsole.log(Number(buf.toString(\"utf8\", 0, n).trim()) * 2);\n",
		Broken:  "console.log(\"a\";\n",
		Exit3:   "process.exit(3);\n",
		Loop:    "console.log(\"looping\");\nwhile (true) {}\n",
		Sleep:   "const end = Date.now() + 10000;\nwhile (Date.now() < end) {}\n",
		Trivial: "1 + 1;",
		Project: map[string]string{
			"main.js": "const util = require(\"./util\");\nconsole.log(\"sum \" + util.add(2, 3));\n",
			"util.js": "exports.add = (a, b) => a + b;\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "js", Run: "node main.js",
	},
	{
		Key: "ruby", Image: "ruby:3.1-debian", REPL: true,
		Hello:   `puts "hello"`,
		Order:   "$stdout.sync = true\n$stderr.sync = true\nputs \"out1\"\n$stderr.puts \"err1\"\nputs \"out2\"\n",
		Input:   "$stdout.sync = true\nprint \"number? \"\nn = $stdin.gets.to_i\nputs n * 2\n",
		Broken:  "def f(\n  puts 1\nend end\n",
		Exit3:   "exit 3\n",
		Loop:    "$stdout.sync = true\nputs \"looping\"\nloop {}\n",
		Sleep:   "sleep 10\n",
		Trivial: "x = 1",
		Project: map[string]string{
			"main.rb": "require_relative \"util\"\nputs \"sum #{add(2, 3)}\"\n",
			"util.rb": "def add(a, b)\n  a + b\nend\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "rb", Run: "ruby main.rb",
	},
	{
		Key: "php", Image: "php:8.2-debian", REPL: true,
		Hello:   "<?php\necho \"hello\\n\";\n",
		Order:   "<?php\nfwrite(STDOUT, \"out1\\n\");\nfflush(STDOUT);\nfwrite(STDERR, \"err1\\n\");\nfflush(STDERR);\nfwrite(STDOUT, \"out2\\n\");\nfflush(STDOUT);\n",
		Input:   "<?php\necho \"number? \";\n$n = (int)trim(fgets(STDIN));\necho $n * 2, \"\\n\";\n",
		Broken:  "<?php\necho \"a\" echo \"b\";\n",
		Exit3:   "<?php\nexit(3);\n",
		Loop:    "<?php\necho \"looping\\n\";\nflush();\nwhile (true) {}\n",
		Sleep:   "<?php\nsleep(10);\n",
		Trivial: "<?php\n$x = 1;\n",
		Project: map[string]string{
			"main.php": "<?php\nrequire __DIR__ . \"/util.php\";\necho \"sum \" . add(2, 3) . \"\\n\";\n",
			"util.php": "<?php\nfunction add($a, $b) { return $a + $b; }\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "php", Run: "php main.php",
	},
	{
		Key: "lua", Image: "lua:5.4-debian", REPL: true,
		Hello:   `print("hello")`,
		Order:   "io.stdout:write(\"out1\\n\")\nio.stdout:flush()\nio.stderr:write(\"err1\\n\")\nio.stderr:flush()\nio.stdout:write(\"out2\\n\")\nio.stdout:flush()\n",
		Input:   "io.write(\"number? \")\nio.stdout:flush()\nlocal n = tonumber(io.read(\"l\"))\nprint(math.floor(n * 2))\n",
		Broken:  "print(\"a\"\n",
		Exit3:   "os.exit(3)\n",
		Loop:    "io.write(\"looping\\n\")\nio.stdout:flush()\nwhile true do end\n",
		Sleep:   "local t0 = os.clock()\nwhile os.clock() - t0 < 10 do end\n",
		Trivial: "x = 1",
		Project: map[string]string{
			"main.lua": "local util = require(\"util\")\nprint(\"sum \" .. util.add(2, 3))\n",
			"util.lua": "local M = {}\nfunction M.add(a, b) return a + b end\nreturn M\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "lua", Run: "lua5.4 main.lua",
	},
	{
		Key: "r", Image: "r:4.2-debian", REPL: true,
		Hello:   `cat("hello\n")`,
		Order:   "cat(\"out1\\n\"); flush(stdout())\ncat(\"err1\\n\", file = stderr()); flush(stderr())\ncat(\"out2\\n\"); flush(stdout())\n",
		Input:   "cat(\"number? \"); flush(stdout())\ncon <- file(\"stdin\")\nn <- as.integer(readLines(con, n = 1))\nclose(con)\ncat(n * 2, \"\\n\", sep = \"\")\n",
		Broken:  "x <- )\n",
		Exit3:   "quit(status = 3)\n",
		Loop:    "cat(\"looping\\n\"); flush(stdout())\nrepeat {}\n",
		Sleep:   "Sys.sleep(10)\n",
		Trivial: "x <- 1",
		Project: map[string]string{
			"main.R": "source(\"util.R\")\ncat(\"sum \", add(2, 3), \"\\n\", sep = \"\")\n",
			"util.R": "add <- function(a, b) a + b\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "R", Run: "Rscript main.R",
	},
	{
		Key: "octave", Image: "octave:7-debian", REPL: true,
		Hello:   `printf("hello\n");`,
		Order:   "printf(\"out1\\n\"); fflush(stdout);\nfprintf(stderr, \"err1\\n\"); fflush(stderr);\nprintf(\"out2\\n\"); fflush(stdout);\n",
		Input:   "n = input(\"number? \");\nprintf(\"%d\\n\", n * 2);\n",
		Broken:  "x = );\n",
		Exit3:   "exit(3);\n",
		Loop:    "printf(\"looping\\n\"); fflush(stdout);\nwhile true\nend\n",
		Sleep:   "pause(10);\n",
		Trivial: "x = 1;",
		Project: map[string]string{
			"main.m": "printf(\"sum %d\\n\", add2(2, 3));\n",
			"add2.m": "function r = add2(a, b)\n  r = a + b;\nend\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "m", Run: "octave-cli --no-gui -q main.m",
	},
	{
		Key: "haskell", Image: "haskell:ghc9.0-debian", Compiled: true,
		Hello: `main :: IO ()
main = putStrLn "hello"
`,
		Order: `import System.IO

main :: IO ()
main = do
  hSetBuffering stdout NoBuffering
  hSetBuffering stderr NoBuffering
  putStrLn "out1"
  hPutStrLn stderr "err1"
  putStrLn "out2"
`,
		Input: `import System.IO

main :: IO ()
main = do
  hSetBuffering stdout NoBuffering
  putStr "number? "
  l <- getLine
  print (2 * read l :: Int)
`,
		Broken: "main :: IO ()\nmain = putStrLn (\n",
		Exit3:  "import System.Exit\n\nmain :: IO ()\nmain = exitWith (ExitFailure 3)\n",
		Loop: `import System.IO
import Control.Monad

main :: IO ()
main = do
  hSetBuffering stdout NoBuffering
  putStrLn "looping"
  forM_ [1 :: Integer ..] $ \i -> when (i < 0) (print i)
`,
		Sleep: "import Control.Concurrent\n\nmain :: IO ()\nmain = threadDelay 10000000\n",
		Project: map[string]string{
			"Main.hs": "import Util (add)\n\nmain :: IO ()\nmain = putStrLn (\"sum \" ++ show (add 2 3))\n",
			"Util.hs": "module Util (add) where\n\nadd :: Int -> Int -> Int\nadd a b = a + b\n",
		},
		BrokenProject: map[string]string{"Util.hs": "module Util (add) where\n\nadd :: Int -> Int -> Int\nadd a b = a + \n"},
		Ext:           "hs", Run: "ghc -v0 -o main main.hs && ./main",
	},
	{
		Key: "bash", Image: "bash:5.2-debian", REPL: true,
		Hello:   "echo hello",
		Order:   "echo out1\necho err1 >&2\necho out2\n",
		Input:   "read -r -p 'number? ' n\necho $((n * 2))\n",
		Broken:  "fi\n",
		Exit3:   "exit 3\n",
		Loop:    "echo looping\nwhile :; do :; done\n",
		Sleep:   "sleep 10\n",
		Trivial: "x=1",
		Project: map[string]string{
			"main.sh": "source ./util.sh\necho \"sum $(add 2 3)\"\n",
			"util.sh": "add() { echo $(($1 + $2)); }\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "sh", Run: "bash main.sh",
	},
	{
		Key: "scheme", Image: "scheme:guile3.0-debian", REPL: true,
		Hello:   `(display "hello") (newline)`,
		Order:   "(display \"out1\\n\") (force-output)\n(display \"err1\\n\" (current-error-port)) (force-output (current-error-port))\n(display \"out2\\n\") (force-output)\n",
		Input:   "(use-modules (ice-9 rdelim))\n(display \"number? \") (force-output)\n(let ((l (read-line))) (display (* 2 (string->number l))) (newline))\n",
		Broken:  "(let ((x)) x)\n",
		Exit3:   "(exit 3)\n",
		Loop:    "(display \"looping\\n\") (force-output)\n(let loop () (loop))\n",
		Sleep:   "(sleep 10)\n",
		Trivial: "(define x 1)",
		Project: map[string]string{
			"main.scm": "(load \"util.scm\")\n(display \"sum \") (display (add 2 3)) (newline)\n",
			"util.scm": "(define (add a b) (+ a b))\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "scm", Run: "guile --no-auto-compile main.scm",
	},
	{
		Key: "perl", Image: "perl:5.36-debian", REPL: true,
		Hello:   `print "hello\n";`,
		Order:   "$| = 1;\nprint \"out1\\n\";\nprint STDERR \"err1\\n\";\nprint \"out2\\n\";\n",
		Input:   "$| = 1;\nprint \"number? \";\nmy $n = <STDIN>;\nchomp $n;\nprint $n * 2, \"\\n\";\n",
		Broken:  "my $x = ;\n",
		Exit3:   "exit 3;\n",
		Loop:    "$| = 1;\nprint \"looping\\n\";\n1 while 1;\n",
		Sleep:   "sleep 10;\n",
		Trivial: "$x = 1;",
		Project: map[string]string{
			"main.pl": "require \"./util.pl\";\nprint \"sum \", add(2, 3), \"\\n\";\n",
			"util.pl": "sub add { return $_[0] + $_[1]; }\n1;\n",
		},
		BrokenBuild: "exit 2",
		Ext:         "pl", Run: "perl main.pl",
	},
}
