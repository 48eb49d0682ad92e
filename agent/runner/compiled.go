package runner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"baigo.dev/bai/common/kproto"
)

// compiledSpec describes a compiled language. Query mode writes the snippet
// to a fresh directory and runs `<compile> && <run>` there as one shell
// step, so a compiler error ends the run with the compiler's exit code and
// output, and otherwise the program's exit code is the run's.
type compiledSpec struct {
	file    string // source file name for a query snippet
	compile string // compile command for a query snippet (file names above)
	run     string // run command after compile
	build   string // batch build default in the work dir
	exec    string // batch exec default in the work dir
}

// goEnv gives `go` a writable build cache whatever HOME is.
const goEnv = `GOCACHE="${GOCACHE:-/tmp/go-cache}" GOPATH="${GOPATH:-/tmp/go}" GO111MODULE="${GO111MODULE:-auto}" `

var compiledSpecs = map[string]compiledSpec{
	"c": {file: "main.c", compile: "gcc -O2 -o main main.c -lm", run: "./main",
		build: "gcc -O2 -o main *.c -lm", exec: "./main"},
	"cpp": {file: "main.cpp", compile: "g++ -O2 -o main main.cpp", run: "./main",
		build: "g++ -O2 -o main *.cpp", exec: "./main"},
	"go": {file: "main.go", compile: goEnv + "go build -o main main.go", run: "./main",
		build: "if [ -f go.mod ]; then " + goEnv + "go build -o main .; else " + goEnv + "go build -o main *.go; fi", exec: "./main"},
	"rust": {file: "main.rs", compile: "rustc -o main main.rs", run: "./main",
		build: "if [ -f Cargo.toml ]; then cargo build --release; else rustc -O -o main main.rs; fi",
		exec:  "if [ -f Cargo.toml ]; then cargo run --release; else ./main; fi"},
	"java": {file: "Main.java", compile: "javac %s", run: "java -cp . %s",
		build: "javac *.java", exec: "java -cp . Main"},
	"haskell": {file: "Main.hs", compile: "ghc -v0 -o main Main.hs", run: "./main",
		build: "ghc -v0 -O -o main Main.hs", exec: "./main"},
}

// javaClass finds the public class a Java snippet declares.
var javaClass = regexp.MustCompile(`public\s+(?:(?:final|abstract|static)\s+)*class\s+([A-Za-z_$][\w$]*)`)

// compiledDriver serves compiled languages: there is no state between query
// runs; each snippet is compiled and run on its own.
type compiledDriver struct {
	cfg  Config
	log  *slog.Logger
	lang string
	spec compiledSpec

	mu  sync.Mutex
	cur *shellRun
}

// Start implements Driver.
func (d *compiledDriver) Start(context.Context) error { return nil }

// Query implements Driver.
func (d *compiledDriver) Query(ctx context.Context, code string, rio RunIO) (int, error) {
	dir, err := os.MkdirTemp(d.cfg.tempDir(), "bai-run-")
	if err != nil {
		return 1, fmt.Errorf("run dir: %w", err)
	}
	defer os.RemoveAll(dir)
	file, compile, run := d.spec.file, d.spec.compile, d.spec.run
	if d.lang == "java" {
		class := "Main"
		if m := javaClass.FindStringSubmatch(code); m != nil {
			class = m[1]
		}
		file = class + ".java"
		compile = fmt.Sprintf(compile, file)
		run = fmt.Sprintf(run, class)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(code), 0o644); err != nil {
		return 1, fmt.Errorf("write source: %w", err)
	}
	sh := &shellRun{}
	d.mu.Lock()
	d.cur = sh
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.cur = nil
		d.mu.Unlock()
	}()
	return sh.runIn(ctx, d.cfg, dir, nil, compile+" && "+run, rio.Out, rio.Input)
}

// Interrupt implements Driver: the compiler or program's process group is
// killed.
func (d *compiledDriver) Interrupt() error {
	d.mu.Lock()
	sh := d.cur
	d.mu.Unlock()
	if sh == nil {
		return nil
	}
	return sh.interrupt()
}

// Complete implements Driver; compiled languages have no completion.
func (d *compiledDriver) Complete(context.Context, kproto.CompleteRequest) ([]string, error) {
	return []string{}, nil
}

// DefaultCommand implements Driver.
func (d *compiledDriver) DefaultCommand(op string) string {
	switch op {
	case kproto.OpBuild:
		return d.spec.build
	case kproto.OpExec:
		return d.spec.exec
	}
	return ""
}

// Close implements Driver.
func (d *compiledDriver) Close() error { return d.Interrupt() }
