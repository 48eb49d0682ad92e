package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Debian's Jupyter tools the kernel is tested with.
const (
	jkPython    = "/usr/bin/python3"
	jkNbconvert = "/usr/bin/jupyter-nbconvert"
)

// jkSessionRE finds the sessions the kernels log as created.
var jkSessionRE = regexp.MustCompile(`msg="session created"[^\n]*session_name=(jupyter-[\w.-]+)`)

// jkRequireTools skips (fails under CI=true) when the Jupyter tools are
// missing.
func jkRequireTools(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := os.Stat(jkNbconvert); err != nil {
		missing = jkNbconvert
	} else if out, err := exec.Command(jkPython, "-c", "import jupyter_kernel_test, jupyter_client").CombinedOutput(); err != nil {
		missing = "python3-jupyter-kernel-test (" + strings.TrimSpace(string(out)) + ")"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s missing (CI=true): install the test tools (scripts/ensure-test-deps.sh)", missing)
	}
	t.Skipf("%s missing: install python3-jupyter-kernel-test and jupyter-nbconvert", missing)
}

// jkEnv is the environment of a Jupyter tool: the kernelspecs under
// jupyterPath, private runtime and data directories, the BACKEND_* of
// backend (none when nil), and no byte-code files in the source tree.
func jkEnv(t *testing.T, jupyterPath string, backend []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BACKEND_") || strings.HasPrefix(kv, "JUPYTER_") || strings.HasPrefix(kv, "BAI_LOG_LEVEL=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "JUPYTER_PATH="+jupyterPath, "JUPYTER_RUNTIME_DIR="+t.TempDir(), "JUPYTER_DATA_DIR="+t.TempDir(),
		"JUPYTER_CONFIG_DIR="+t.TempDir(), "PYTHONDONTWRITEBYTECODE=1", "BAI_LOG_LEVEL=info")
	return append(env, backend...)
}

// jkRun runs a program and returns its combined output and exit code.
func jkRun(t *testing.T, dir string, env []string, limit time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%v did not finish within %s:\n%s", args, limit, out)
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", args, err)
	}
	return string(out), 0
}

// jkKernelspec reads an installed kernel.json.
func jkKernelspec(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return spec
}

// jkNotebook writes a notebook of code cells for the bai-python kernel.
func jkNotebook(t *testing.T, dir, name string, cells ...string) string {
	t.Helper()
	var cs []map[string]any
	for _, src := range cells {
		cs = append(cs, map[string]any{"cell_type": "code", "execution_count": nil, "metadata": map[string]any{}, "outputs": []any{}, "source": src})
	}
	nb := map[string]any{
		"cells":          cs,
		"metadata":       map[string]any{"kernelspec": map[string]any{"name": "bai-python", "display_name": "bai-python", "language": "python"}},
		"nbformat":       4,
		"nbformat_minor": 4,
	}
	b, _ := json.Marshal(nb)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// jkOutput is one output of an executed notebook cell.
type jkOutput struct {
	OutputType string         `json:"output_type"`
	Name       string         `json:"name"`
	Text       any            `json:"text"`
	Data       map[string]any `json:"data"`
	Ename      string         `json:"ename"`
	Evalue     string         `json:"evalue"`
	Traceback  []string       `json:"traceback"`
	Metadata   map[string]any `json:"metadata"`
}

// text joins a text field, which nbformat stores as a string or a list.
func (o jkOutput) text() string {
	switch v := o.Text.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, s := range v {
			if s, ok := s.(string); ok {
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return ""
}

// jkCells reads the outputs and execution counts of an executed notebook.
func jkCells(t *testing.T, path string) (outputs [][]jkOutput, counts []any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Cells []struct {
			ExecutionCount any        `json:"execution_count"`
			Outputs        []jkOutput `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, c := range nb.Cells {
		outputs = append(outputs, c.Outputs)
		counts = append(counts, c.ExecutionCount)
	}
	return outputs, counts
}

// TestJupyterKernel installs the bai kernelspecs and drives `bai jupyter
// kernel` with Jupyter's own tools: jupyter_kernel_test's conformance
// suite through jupyter_client, and nbconvert executing notebooks. Each
// kernel runs its cells in a real session of the shared server, which
// must be gone once the tools have shut their kernels down.
func TestJupyterKernel(t *testing.T) {
	t.Parallel()
	jkRequireTools(t)
	backend := sharedEnv()

	// Kernelspecs reading the keypair from the environment.
	prefix := t.TempDir()
	r := bai(t, backend, time.Minute, "jupyter", "install", "--prefix", prefix, "--image", "python")
	if r.code != 0 {
		t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	specPath := filepath.Join(prefix, "share", "jupyter", "kernels", "bai-python", "kernel.json")
	spec := jkKernelspec(t, specPath)
	argv, _ := spec["argv"].([]any)
	wantArgv := []any{filepath.Join(st.binDir, "bai"), "jupyter", "kernel", "--image", imageName, "--connection-file", "{connection_file}"}
	if abs, err := filepath.Abs(st.binDir); err == nil {
		wantArgv[0] = filepath.Join(abs, "bai")
	}
	if b1, b2 := jkJSON(argv), jkJSON(wantArgv); b1 != b2 {
		t.Errorf("argv %s, want %s", b1, b2)
	}
	if spec["display_name"] != "Python 3.11 on Backend.AI (python:3.11-debian)" || spec["language"] != "python" || spec["interrupt_mode"] != "message" {
		t.Errorf("kernelspec %v", spec)
	}
	if _, ok := spec["env"]; ok {
		t.Errorf("kernelspec stores env without --with-keys: %v", spec)
	}

	// Kernelspecs holding the keypair (--with-keys), for servers started
	// without BACKEND_*.
	keyPrefix := t.TempDir()
	r = bai(t, backend, time.Minute, "jupyter", "install", "--prefix", keyPrefix, "--with-keys", "--image", "python")
	if r.code != 0 {
		t.Fatalf("install --with-keys: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	keySpecPath := filepath.Join(keyPrefix, "share", "jupyter", "kernels", "bai-python", "kernel.json")
	if fi, err := os.Stat(keySpecPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kernel.json with keys: %v, mode %v; want 0600", err, fi.Mode())
	}
	if env, _ := jkKernelspec(t, keySpecPath)["env"].(map[string]any); env["BACKEND_SECRET_KEY"] != st.shared.Creds.SecretKey || env["BACKEND_ENDPOINT"] != st.shared.Creds.Endpoint {
		t.Fatalf("kernelspec env %v lacks the keypair", env)
	}

	jupyterPath := filepath.Join(prefix, "share", "jupyter")
	var logs strings.Builder // every tool's output, for the session names

	t.Run("jupyter_kernel_test", func(t *testing.T) {
		dir, err := filepath.Abs(filepath.Join("testdata", "jupyter"))
		if err != nil {
			t.Fatal(err)
		}
		out, code := jkRun(t, dir, jkEnv(t, jupyterPath, backend), 5*time.Minute, jkPython, "-m", "unittest", "-v", "test_bai_kernel")
		logs.WriteString(out)
		if code != 0 || !strings.Contains(out, "\nOK") {
			t.Fatalf("jupyter_kernel_test failed (exit %d):\n%s", code, out)
		}
		// The conformance tests that must run, not skip. A kernel's log
		// lines may come between a test's name and its "ok".
		for _, name := range []string{"test_execute_stdout", "test_execute_stderr", "test_error", "test_display_data", "test_completion", "test_is_complete", "test_kernel_info", "test_input", "test_interrupt", "test_traceback"} {
			if !regexp.MustCompile(name + ` \(test_bai_kernel\.\w+\.` + name + `\) \.\.\. (?:time=[^\n]*\n)*ok`).MatchString(out) {
				t.Errorf("%s did not pass:\n%s", name, out)
			}
		}
	})

	t.Run("nbconvert", func(t *testing.T) {
		dir := t.TempDir()
		ok := jkNotebook(t, dir, "ok.ipynb",
			"print('hello from bai')",
			"x = 6 * 7\nprint(x * 2)",
			"from bai_media import display_html\ndisplay_html('<b>bold</b>')",
			"import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()",
			"import sys\nprint('careful', file=sys.stderr)",
		)
		// The keypair comes from the --with-keys kernelspec alone.
		env := jkEnv(t, filepath.Join(keyPrefix, "share", "jupyter"), nil)
		out, code := jkRun(t, dir, env, 3*time.Minute, jkNbconvert, "--execute", "--to", "notebook", "--output", "out.ipynb", ok, "--ExecutePreprocessor.kernel_name=bai-python")
		logs.WriteString(out)
		if code != 0 {
			t.Fatalf("nbconvert: exit %d\n%s", code, out)
		}
		cells, counts := jkCells(t, filepath.Join(dir, "out.ipynb"))
		want := []struct {
			typ, name, mime, text string
		}{
			{"stream", "stdout", "", "hello from bai\n"},
			{"stream", "stdout", "", "84\n"},
			{"display_data", "", "text/html", "<b>bold</b>"},
			{"display_data", "", "image/svg+xml", "<svg"},
			{"stream", "stderr", "", "careful\n"},
		}
		if len(cells) != len(want) {
			t.Fatalf("%d cells, want %d", len(cells), len(want))
		}
		for i, w := range want {
			if len(cells[i]) != 1 {
				t.Errorf("cell %d: outputs %+v, want one", i+1, cells[i])
				continue
			}
			o := cells[i][0]
			if jkJSON(counts[i]) != jkJSON(i+1) {
				t.Errorf("cell %d: execution_count %v", i+1, counts[i])
			}
			switch {
			case o.OutputType != w.typ:
				t.Errorf("cell %d: output %+v, want %s", i+1, o, w.typ)
			case w.typ == "stream" && (o.Name != w.name || o.text() != w.text):
				t.Errorf("cell %d: stream %s %q, want %s %q", i+1, o.Name, o.text(), w.name, w.text)
			case w.typ == "display_data":
				data := jkOutput{Text: o.Data[w.mime]}.text()
				if !strings.Contains(data, w.text) {
					t.Errorf("cell %d: %s data %.200q, want it to contain %q", i+1, w.mime, data, w.text)
				}
				if (jkOutput{Text: o.Data["text/plain"]}).text() == "" {
					t.Errorf("cell %d: no text/plain fallback in %v", i+1, o.Data)
				}
			}
		}

		bad := jkNotebook(t, dir, "bad.ipynb", "print('first')", "raise ValueError('boom')", "print('never')")
		out, code = jkRun(t, dir, env, 3*time.Minute, jkNbconvert, "--execute", "--to", "notebook", "--output", "bad-out.ipynb", bad, "--ExecutePreprocessor.kernel_name=bai-python")
		logs.WriteString(out)
		if code == 0 || !strings.Contains(out, "CellExecutionError") || !strings.Contains(out, "ValueError: boom") {
			t.Fatalf("nbconvert of a failing notebook: exit %d, want a CellExecutionError naming ValueError: boom\n%s", code, out)
		}

		// With errors allowed the error is the cell's output, structured.
		out, code = jkRun(t, dir, env, 3*time.Minute, jkNbconvert, "--execute", "--allow-errors", "--to", "notebook", "--output", "bad-allowed.ipynb", bad, "--ExecutePreprocessor.kernel_name=bai-python")
		logs.WriteString(out)
		if code != 0 {
			t.Fatalf("nbconvert --allow-errors: exit %d\n%s", code, out)
		}
		cells, _ = jkCells(t, filepath.Join(dir, "bad-allowed.ipynb"))
		if len(cells) != 3 || len(cells[1]) != 1 {
			t.Fatalf("cells %+v", cells)
		}
		e := cells[1][0]
		if e.OutputType != "error" || e.Ename != "ValueError" || e.Evalue != "boom" || !strings.Contains(strings.Join(e.Traceback, "\n"), "raise ValueError('boom')") {
			t.Errorf("error output %+v", e)
		}

		// Without a keypair the kernel still starts and says what is missing.
		out, code = jkRun(t, dir, jkEnv(t, jupyterPath, nil), 3*time.Minute, jkNbconvert, "--execute", "--to", "notebook", "--output", "nokeys.ipynb", ok, "--ExecutePreprocessor.kernel_name=bai-python")
		if code == 0 || !strings.Contains(out, "SessionError") || !strings.Contains(out, "BACKEND_ACCESS_KEY") {
			t.Fatalf("nbconvert without keys: exit %d, want a SessionError naming BACKEND_ACCESS_KEY\n%s", code, out)
		}
	})

	t.Run("SIGTERM destroys the session", func(t *testing.T) {
		// What Jupyter does when a kernel ignores shutdown_request, and what
		// a service manager does: the kernel must still clean up.
		dir := t.TempDir()
		id := "sigterm-" + randomHex(4)
		conn := map[string]any{"transport": "tcp", "ip": "127.0.0.1", "key": randomHex(16), "signature_scheme": "hmac-sha256", "kernel_name": "bai-python"}
		for _, p := range []string{"shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"} {
			addr, err := freeAddrOn("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := strings.Cut(addr, ":")
			conn[p] = json.Number(port)
		}
		connFile := filepath.Join(dir, "kernel-"+id+".json")
		if err := os.WriteFile(connFile, []byte(jkJSON(conn)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(st.binDir, "bai"), "jupyter", "kernel", "--image", "python", "--connection-file", connFile)
		cmd.Env = jkEnv(t, jupyterPath, backend)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
		})
		name := "jupyter-" + id
		c := st.shared.Client()
		for deadline := time.Now().Add(60 * time.Second); ; {
			if si, _, err := c.Info(testCtx(t, 10*time.Second), name); err == nil && si.Status == "RUNNING" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the kernel did not create session %s; its output:\n%s", name, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("kernel exit after SIGTERM: %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the kernel did not exit within 30s of SIGTERM:\n%s", out)
		}
		si, _, err := c.Info(testCtx(t, 10*time.Second), name)
		if err == nil && si.Status != "TERMINATED" {
			t.Fatalf("session %s is %s after the kernel's SIGTERM", name, si.Status)
		}
	})

	t.Run("no session left", func(t *testing.T) {
		all := logs.String()
		if strings.Contains(all, st.shared.Creds.SecretKey) {
			t.Errorf("the secret key appears in the output of the kernels or tools")
		}
		names := map[string]bool{}
		for _, m := range jkSessionRE.FindAllStringSubmatch(all, -1) {
			names[m[1]] = true
		}
		// Two kernels in jupyter_kernel_test, three in nbconvert.
		if len(names) < 5 {
			t.Fatalf("found the sessions %v of %d kernels in the logs, want 5", names, len(names))
		}
		c := st.shared.Client()
		deadline := time.Now().Add(30 * time.Second)
		for {
			list, err := c.List(testCtx(t, 30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, s := range list {
				if names[s.SessionName] {
					left = append(left, s.SessionName+" ("+s.Status+")")
				}
			}
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("sessions of shut-down kernels still there: %v", left)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

func jkJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
