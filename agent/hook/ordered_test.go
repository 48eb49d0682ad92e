package hook_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOrderedOutput runs a program that alternates stdout and stderr with
// BAI_ORDERED_FD set and checks that the records on the ordered pipe give
// back the exact interleaving, and that nothing leaks to the plain pipes.
func TestOrderedOutput(t *testing.T) {
	a := build(t)
	bin := filepath.Join(t.TempDir(), "order")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, "testdata/order.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	var want strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&want, "1:out%d\n2:err%d\n1:wout%d\n2:werr%d\n", i, i, i, i)
	}
	cases := []struct {
		name string
		cmd  []string
		want string
	}{
		{"c stdio and write", []string{bin}, want.String()},
		{"python os.write", []string{"/usr/bin/python3", "-c", "import os\nfor i in range(50):\n    os.write(1, b'a%d\\n' % i)\n    os.write(2, b'b%d\\n' % i)"}, func() string {
			var b strings.Builder
			for i := 0; i < 50; i++ {
				fmt.Fprintf(&b, "1:a%d\n2:b%d\n", i, i)
			}
			return b.String()
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
			cmd.Env = append(cleanEnv(), "LD_PRELOAD="+a.lib, "BAI_ORDERED_FD=3")
			cmd.ExtraFiles = []*os.File{pw}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			recs, err := io.ReadAll(pr)
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v: %v (stderr %q)", c.cmd, err, stderr.String())
			}
			if stdout.Len() > 0 || stderr.Len() > 0 {
				t.Errorf("leaked to the plain pipes: stdout %q stderr %q", stdout.String(), stderr.String())
			}
			var got strings.Builder
			for len(recs) > 0 {
				if len(recs) < 5 {
					t.Fatalf("truncated record header: %q", recs)
				}
				n := binary.LittleEndian.Uint32(recs[1:5])
				if int(n) > len(recs)-5 {
					t.Fatalf("truncated record: %d > %d", n, len(recs)-5)
				}
				for _, line := range strings.SplitAfter(string(recs[5:5+n]), "\n") {
					if line != "" {
						got.WriteString(string(recs[0]) + ":" + line)
					}
				}
				recs = recs[5+n:]
			}
			if got.String() != c.want {
				t.Errorf("order differs:\n got %q\nwant %q", got.String(), c.want)
			}
		})
	}

	// Without the variable, the program's output takes the plain pipes.
	out, err := exec.Command("env", "LD_PRELOAD="+a.lib, bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "out49") || !strings.Contains(string(out), "werr49") {
		t.Errorf("plain run: %v %q", err, out)
	}
}
