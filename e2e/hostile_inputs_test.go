package e2e_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// Hostile clients and hostile code against the file API, the request size
// limits, the image's setuid binaries and the session lifetime. Each case
// checks the status the server answers and that nothing happened beyond it.

// passwdLine is in every /etc/passwd (the host's and the image's): bytes
// holding it were read outside /home/work.
const passwdLine = "root:x:0:0"

// rawUpload sends one file part whose Content-Disposition is disposition
// exactly as written, to try names the compat client would never send.
func rawUpload(ctx context.Context, c *compat.Client, name, disposition, data string) (*compat.Response, error) {
	boundary := "bai-e2e-" + randomHex(8)
	body := "--" + boundary + "\r\n" +
		"Content-Disposition: " + disposition + "\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" +
		data + "\r\n--" + boundary + "--\r\n"
	return c.Do(ctx, compat.Request{
		Method: http.MethodPost, Path: c.SessionPath(name, "/upload"), Body: []byte(body),
		ContentType: "multipart/form-data",
		Header:      http.Header{"Content-Type": {"multipart/form-data; boundary=" + boundary}},
	})
}

// wantProblem checks resp is an RFC 7807 answer with status and a message
// holding every fragment (case-insensitive).
func wantProblem(t *testing.T, what string, resp *compat.Response, status int, fragments ...string) {
	t.Helper()
	if resp == nil {
		t.Errorf("%s: no answer", what)
		return
	}
	p, ok := resp.Problem()
	if resp.Status != status || !ok || p.Msg == "" {
		t.Errorf("%s: %s, want %d with a problem+json message", what, resp, status)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(strings.ToLower(p.Msg), strings.ToLower(f)) {
			t.Errorf("%s: message %q lacks %q", what, p.Msg, f)
		}
	}
	t.Logf("%s: %d %s", what, resp.Status, p.Msg)
}

// respOf returns the answer carried by a compat error (nil for others).
func respOf(err error) *compat.Response {
	var se *compat.StatusError
	if errors.As(err, &se) {
		return se.Resp
	}
	return nil
}

// workDirOf returns the host folder that is the session's /home/work.
func workDirOf(t *testing.T, dataDir, sessionID string) string {
	t.Helper()
	cs := containersOf(t, sessionID)
	if len(cs) != 1 {
		t.Fatalf("containers of %s: %v", sessionID, cs)
	}
	kid := dockerField(t, "container", cs[0], `{{index .Config.Labels "`+types.LabelKernelID+`"}}`)
	return filepath.Join(dataDir, "kernels", kid, "work")
}

// TestFileAPIPathAttacks: upload, download, download_single and the file
// listing refuse every path that leaves /home/work (.., absolute paths,
// NUL bytes, RFC 2231 encoded names, symlinks the session's code planted
// to /etc/passwd, /proc/1/environ, / and a host file) with 400 or 404 and
// a message; nothing outside /home/work is read or written, in the
// container or on the host (the agent, as root there, does the file work).
// The session API has no mkdir or delete.
func TestFileAPIPathAttacks(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, id := newSession(t, c)
	ctx := testCtx(t, 120*time.Second)
	mark := randomHex(4)
	work := workDirOf(t, st.shared.Opts.DataDir, id)

	// A file on the host (outside any container) that symlinks in the
	// session point to: the agent resolving them on the host would reach it.
	victim := filepath.Join(os.TempDir(), "bai-victim-"+mark)
	if err := os.WriteFile(victim, []byte("host-victim-"+mark), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(victim) })
	hostPlanted := filepath.Join(os.TempDir(), "bai-planted-"+mark)
	t.Cleanup(func() { _ = os.Remove(hostPlanted) })

	r := run(t, c, name, `
import os
os.chdir("/home/work")
for target, link in [("/etc/passwd", "passwd-link"), ("/proc/1/environ", "environ-link"), ("/", "root"),
                     ("../../../../../../../../tmp", "tmp-rel"), ("`+hostPlanted+`", "dangling"),
                     ("`+victim+`", "victim-link"), ("../../../../../../../..`+victim+`", "victim-rel")]:
    try:
        os.symlink(target, link)
    except OSError as e:
        print("symlink", link, e)
print(" ".join(sorted(os.listdir("."))))
print("passwd-has-root", "`+passwdLine+`" in open("/etc/passwd").read())
`)
	if got := strings.TrimSpace(r.Stdout()); !strings.Contains(got, "dangling environ-link passwd-link root tmp-rel victim-link victim-rel") || !strings.Contains(got, "passwd-has-root True") {
		t.Fatalf("planting the symlinks: %q %q", got, r.Stderr())
	}

	// Uploads: each one file, the name exactly as on the wire.
	uploads := []struct {
		disposition string
		status      int
		msg         string
	}{
		{`form-data; name="src"; filename="../escape-` + mark + `.txt"`, 400, `".."`},
		{`form-data; name="src"; filename="/etc/planted-` + mark + `"`, 400, "absolute"},
		{`form-data; name="src"; filename="a/../../b-` + mark + `"`, 400, `".."`},
		{`form-data; name="src"; filename="/home/work/../escape2-` + mark + `.txt"`, 400, `".."`},
		{`form-data; name="src"; filename*=UTF-8''..%2F..%2Fescape3-` + mark, 400, `".."`},
		{`form-data; name="src"; filename*=UTF-8''%2Fetc%2Fplanted2-` + mark, 400, "absolute"},
		{`form-data; name="src"; filename*=UTF-8''nul%00%2F..%2F..%2Fescape4-` + mark, 400, "NUL"},
		{"form-data; name=\"src\"; filename=\"nul\x00/../../escape5-" + mark + "\"", 400, ""},
		{`form-data; name="src"; filename="root/tmp/bai-planted-` + mark + `"`, 400, "outside"},
		{`form-data; name="src"; filename="tmp-rel/bai-planted-` + mark + `"`, 400, "outside"},
		{`form-data; name="src"; filename="dangling"`, 400, "outside"},
		{`form-data; name="src"; filename="victim-link"`, 400, "outside"},
		{`form-data; name="src"; filename="victim-rel"`, 400, "outside"},
		{`form-data; name="src"; filename="passwd-link"`, 400, "outside"},
		{`form-data; name="src"; filename="."`, 400, "empty file name"},
	}
	for _, u := range uploads {
		resp, err := rawUpload(ctx, c, name, u.disposition, "planted-"+mark)
		if err != nil {
			t.Fatalf("upload %q: %v", u.disposition, err)
		}
		wantProblem(t, "upload "+strconv.Quote(u.disposition), resp, u.status, u.msg)
	}
	// Backslashes separate nothing on Linux: such a name is one file in
	// /home/work, named with its backslashes (as Backend.AI's agent does).
	for _, n := range []string{`..\\..\\bs1-` + mark, `..\..\bs2-` + mark} {
		resp, err := rawUpload(ctx, c, name, `form-data; name="src"; filename="`+n+`"`, "bs-"+mark)
		if err != nil || resp.Status != http.StatusNoContent {
			t.Errorf("upload %q: %v %v", n, resp, err)
		}
	}

	// download_single: 400 for every way out, 404 for a name that only
	// looks like one.
	singles := []struct {
		file   string
		status int
		msg    string
	}{
		{"../../../etc/passwd", 400, `".."`},
		{"/etc/passwd", 400, "absolute"},
		{"/home/work/../../../etc/passwd", 400, `".."`},
		{"passwd-link", 400, "outside"},
		{"environ-link", 400, "outside"},
		{"root", 400, "outside"},
		{"root/etc/passwd", 400, "outside"},
		{"tmp-rel", 400, "outside"},
		{"victim-link", 400, "outside"},
		{"victim-rel", 400, "outside"},
		{"bad\x00name", 400, "NUL"},
		{"%2e%2e/%2e%2e/etc/passwd", 404, "no such file"},
	}
	for _, s := range singles {
		b, err := c.DownloadSingle(ctx, name, s.file)
		if err == nil {
			t.Errorf("download_single %q answered 200 with %q", s.file, truncateStr(string(b), 100))
			continue
		}
		wantProblem(t, "download_single "+strconv.Quote(s.file), respOf(err), s.status, s.msg)
	}

	// download (tar archives): the same refusals; the whole work dir
	// archives the symlinks as links, never what they point to.
	for _, f := range []string{"../../etc/passwd", "/etc/passwd", "passwd-link", "environ-link", "root", "victim-link", "victim-rel", "tmp-rel"} {
		resp, err := c.Download(ctx, name, []string{f})
		if err == nil {
			t.Errorf("download %q answered 200 with %q", f, truncateStr(string(resp.Body), 100))
			continue
		}
		wantProblem(t, "download "+strconv.Quote(f), respOf(err), 400)
	}
	all, err := c.Download(ctx, name, []string{"."})
	if err != nil {
		t.Fatalf("download the work dir: %v", err)
	}
	for _, leak := range []string{passwdLine, "host-victim-" + mark} {
		if strings.Contains(string(all.Body), leak) {
			t.Errorf("the work dir's archive holds %q: a symlink was followed", leak)
		}
	}
	if !strings.Contains(string(all.Body), "passwd-link") {
		t.Errorf("the work dir's archive lacks the symlink entries: %q", truncateStr(string(all.Body), 300))
	}

	// Listing: 400 outside, the work dir itself lists the links as links.
	for _, p := range []string{"..", "/", "../..", "/home/work/..", "/home", "root", "root/etc", "tmp-rel"} {
		l, err := c.ListFiles(ctx, name, p)
		if err == nil {
			t.Errorf("list %q answered 200: %v", p, l)
			continue
		}
		wantProblem(t, "list "+strconv.Quote(p), respOf(err), 400)
	}
	l, err := c.ListFiles(ctx, name, "")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := l["files"].(string); !strings.Contains(s, `"filename":"root"`) || !strings.Contains(s, `"type":"symlink"`) || strings.Contains(s, `"filename":"etc"`) {
		t.Errorf("listing of the work dir: %v", l)
	}

	// Nothing was written outside /home/work, in the container...
	r = run(t, c, name, `
import os
for p in ["/home/escape-`+mark+`.txt", "/etc/planted-`+mark+`", "/home/b-`+mark+`", "/home/escape2-`+mark+`.txt",
          "/escape3-`+mark+`", "/etc/planted2-`+mark+`", "/tmp/bai-planted-`+mark+`", "`+hostPlanted+`"]:
    print("exists" if os.path.lexists(p) else "absent", p)
print(" ".join(sorted(f for f in os.listdir("/home/work") if "`+mark+`" in f)))
`)
	out := r.Stdout()
	if strings.Contains(out, "exists") || r.Stderr() != "" {
		t.Errorf("planted outside /home/work in the container:\n%s%s", out, r.Stderr())
	}
	if !strings.Contains(out, `..\..\bs1-`+mark+` ..\..\bs2-`+mark) {
		t.Errorf("backslash names are not plain files in /home/work: %q", out)
	}
	// ... or on the host: the victim is intact, no file of this test is
	// outside the work dir in the agent's data dir, /tmp or /etc.
	if b, err := os.ReadFile(victim); err != nil || string(b) != "host-victim-"+mark {
		t.Errorf("the host file behind the symlinks changed: %q, %v", b, err)
	}
	for _, p := range []string{hostPlanted, "/etc/planted-" + mark, "/etc/planted2-" + mark, "/escape3-" + mark, "/home/escape-" + mark + ".txt"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("planted on the host: %s", p)
		}
	}
	_ = filepath.WalkDir(st.shared.Opts.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == work {
			return filepath.SkipDir
		}
		if strings.Contains(d.Name(), mark) {
			t.Errorf("planted in the agent's data dir, outside the work dir: %s", p)
		}
		return nil
	})
	if r := run(t, c, name, "print(40 + 2)"); !strings.Contains(r.Stdout(), "42") {
		t.Errorf("session unusable afterwards: %+v", r)
	}
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestHugeInputs: a request body over the manager's limit (4 MiB for
// JSON: execute code, input) answers 413 with a message and the session
// goes on; just under it works (code and a 1 MiB input line arrive
// whole); a file over the per-file upload limit (64 MiB) and an upload
// declaring more than the whole-upload limit answer 413 and leave no
// partial file.
func TestHugeInputs(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	ctx := testCtx(t, 180*time.Second)

	// Code over the limit.
	_, resp, err := c.Execute(ctx, name, "query", compat.NewRunID(), "# "+strings.Repeat("x", 5<<20)+"\nprint(1)", nil)
	if err == nil {
		t.Fatal("execute with 5 MiB of code succeeded")
	}
	wantProblem(t, "execute 5 MiB of code", resp, http.StatusRequestEntityTooLarge, "larger than")
	if r := run(t, c, name, "print(1)"); strings.TrimSpace(r.Stdout()) != "1" {
		t.Fatalf("after the huge code: %+v", r)
	}
	// Code under the limit: a 3 MiB literal arrives whole.
	if r := run(t, c, name, `s = "`+strings.Repeat("x", 3<<20)+`"`+"\nprint(len(s))"); strings.TrimSpace(r.Stdout()) != strconv.Itoa(3<<20) {
		t.Errorf("3 MiB of code: stdout %q stderr %q", truncateStr(r.Stdout(), 200), truncateStr(r.Stderr(), 200))
	}

	// Input over the limit, then under it, to the same waiting run.
	runID := compat.NewRunID()
	res, _, err := c.Execute(ctx, name, "query", runID, "s = input()\nprint('got', len(s), s[:3], s[-3:])", nil)
	for err == nil && res.Status == "continued" {
		res, _, err = c.Execute(ctx, name, "continue", runID, "", nil)
	}
	if err != nil || res.Status != "waiting-input" {
		t.Fatalf("run reading stdin: %+v %v", res, err)
	}
	_, resp, err = c.Execute(ctx, name, "input", runID, strings.Repeat("y", 8<<20), nil)
	if err == nil {
		t.Fatal("an 8 MiB input line was accepted")
	}
	wantProblem(t, "input of 8 MiB", resp, http.StatusRequestEntityTooLarge, "larger than")
	line := "abc" + strings.Repeat("z", 1<<20-6) + "xyz"
	res, _, err = c.Execute(ctx, name, "input", runID, line, nil)
	var stdout strings.Builder
	for {
		if err != nil {
			t.Fatalf("input of 1 MiB: %v", err)
		}
		items, _ := res.Items()
		for _, it := range items {
			if s, ok := it.Data.(string); ok && it.Type == "stdout" {
				stdout.WriteString(s)
			}
		}
		if res.Status != "continued" {
			break
		}
		res, _, err = c.Execute(ctx, name, "continue", runID, "", nil)
	}
	if got, want := strings.TrimSpace(stdout.String()), "got 1048576 abc xyz"; res.Status != "finished" || got != want {
		t.Errorf("input of 1 MiB: status %s, stdout %q, want %q", res.Status, got, want)
	}

	// A file one byte over the per-file limit, after a small one: 413, the
	// big file is removed, the earlier one kept (as documented).
	_, err = c.Upload(ctx, name, []compat.File{{Name: "small-ok.txt", Data: []byte("ok")}, {Name: "big.bin", Data: make([]byte, 64<<20+1)}})
	if err == nil {
		t.Fatal("a file of 64 MiB + 1 byte was accepted")
	}
	wantProblem(t, "upload of 64 MiB + 1", respOf(err), http.StatusRequestEntityTooLarge, "big.bin")
	// A body declaring more than the whole-upload limit (20 files of
	// 64 MiB + 1 MiB) is refused before any of it is read; with
	// Expect: 100-continue none of it is even sent.
	const declared = 20*(64<<20) + 1<<20 + 1
	resp, err = c.Do(ctx, compat.Request{
		Method: http.MethodPost, Path: c.SessionPath(name, "/upload"), ContentType: "multipart/form-data",
		Stream: io.LimitReader(zeros{}, declared), StreamLength: declared,
		Header: http.Header{"Content-Type": {"multipart/form-data; boundary=x"}, "Expect": {"100-continue"}},
	})
	if err != nil {
		t.Fatalf("upload declaring %d bytes: %v", int64(declared), err)
	}
	wantProblem(t, "upload declaring 1281 MiB + 1", resp, http.StatusRequestEntityTooLarge, "larger than")

	r := run(t, c, name, `
import os
print(sorted(f for f in os.listdir("/home/work") if not f.startswith(".")))
`)
	if got := strings.TrimSpace(r.Stdout()); got != "['small-ok.txt']" {
		t.Errorf("files in /home/work after the refused uploads: %s %s", got, r.Stderr())
	}
	if r := run(t, c, name, "print(1)"); strings.TrimSpace(r.Stdout()) != "1" {
		t.Errorf("after the huge uploads: %+v", r)
	}
}

// TestSetuidBinaries: the image's setuid programs (su, mount, passwd) and
// setuid(0) raise nothing: every attempt that needs root fails (su, mount,
// passwd -S root, reading /etc/shadow, setuid, seteuid) and the code stays
// uid 1000.
func TestSetuidBinaries(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	r := run(t, c, name, `
import os, subprocess
def sh(label, cmd):
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
        print("==", label, "rc", p.returncode, (p.stdout + p.stderr).replace("\n", " | "))
    except Exception as e:
        print("==", label, "rc", -1, type(e).__name__, e)
print("setuid-bits", subprocess.run("for b in su mount passwd; do stat -c '%A %n' $(command -v $b); done", shell=True, capture_output=True, text=True).stdout.replace("\n", " | "))
sh("su", "su -c id root </dev/null")
sh("mount", "mkdir -p /tmp/x && mount -t tmpfs none /tmp/x")
sh("passwd-root", "passwd -S root")
sh("shadow", "head -c 64 /etc/shadow")
sh("passwd-self", "passwd -S")
try:
    os.setuid(0)
    print("== setuid0 rc 0")
except OSError as e:
    print("== setuid0 rc", e.errno, e.strerror)
try:
    os.seteuid(0)
    print("== seteuid0 rc 0")
except OSError as e:
    print("== seteuid0 rc", e.errno, e.strerror)
print("tmpx-mounted", any(l.split()[4] == "/tmp/x" for l in open("/proc/self/mountinfo")))
print("id-u", subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip())
print("ids", os.getresuid(), os.getresgid())
`)
	out := r.Stdout()
	t.Logf("attempts:\n%s%s", out, r.Stderr())
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "== "); ok {
			k, v, _ := strings.Cut(rest, " ")
			lines[k] = v
		}
	}
	// passwd -S about oneself answers from /etc/passwd (its "x" reads as
	// "P") without the shadow file, so it may succeed; about root, or
	// reading /etc/shadow, needs privileges and fails.
	for _, k := range []string{"su", "mount", "passwd-root", "shadow", "setuid0", "seteuid0"} {
		v, ok := lines[k]
		if !ok || strings.HasPrefix(v, "rc 0") {
			t.Errorf("%s did not fail: %q", k, v)
		}
	}
	if strings.Contains(out, "uid=0") {
		t.Errorf("something ran as root:\n%s", out)
	}
	for _, want := range []string{"tmpx-mounted False", "id-u 1000", "ids (1000, 1000, 1000) (1000, 1000, 1000)"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
}

// TestSleepPastLifetime: a session whose code sleeps forever ends when its
// keypair's resource policy's max_session_lifetime is up, within the cull
// interval, with status info "max-lifetime-exceeded: ..."; its container
// is removed and the server goes on. The policy is changed on a server of
// the test's own, so no other test's sessions are culled; the secret key
// is never in that server's log.
func TestSleepPastLifetime(t *testing.T) {
	t.Parallel()
	const lifetime, cull = 10 * time.Second, time.Second
	srv := startOwnServer(t, "", "", "--cull-interval", cull.String())
	c := srv.Client()
	ctx := testCtx(t, 120*time.Second)
	if _, err := c.SetResourcePolicy(ctx, "short-life", map[string]any{"max_session_lifetime": int(lifetime.Seconds())}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetKeyPairPolicy(ctx, srv.Creds.AccessKey, "short-life"); err != nil {
		t.Fatal(err)
	}
	name, id := newSession(t, c)
	si, _, err := c.Info(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Duration(si.Age * float64(time.Second)))
	if _, _, err := c.Execute(ctx, name, "query", compat.NewRunID(), "import time\ntime.sleep(10**6)", nil); err != nil {
		t.Fatalf("start the sleeper: %v", err)
	}
	// The cull loop ends it at most one interval after the lifetime; a
	// second of slack covers the status polling and clock rounding.
	limit := lifetime + cull + time.Second
	si = waitStatus(t, c, id, time.Until(started.Add(limit))+2*time.Second, "TERMINATING", "TERMINATED")
	ended := time.Since(started)
	t.Logf("ended %s after creation (lifetime %s, cull interval %s): %s (%s)", ended.Round(100*time.Millisecond), lifetime, cull, si.Status, si.StatusInfo)
	if ended < lifetime {
		t.Errorf("ended after %s, before the lifetime %s", ended, lifetime)
	}
	if ended > limit+2*time.Second {
		t.Errorf("ended after %s, want at most the lifetime plus the cull interval (%s)", ended, limit)
	}
	si = waitStatus(t, c, id, 30*time.Second, "TERMINATED")
	if !strings.HasPrefix(si.StatusInfo, "max-lifetime-exceeded") {
		t.Errorf("status info %q, want max-lifetime-exceeded: ...", si.StatusInfo)
	}
	waitNoContainers(t, id, 30*time.Second)

	// The server goes on: back on the default policy, a new session works.
	if _, err := c.SetKeyPairPolicy(ctx, srv.Creds.AccessKey, "default"); err != nil {
		t.Fatal(err)
	}
	next, _ := newSession(t, c)
	if r := run(t, c, next, "print(1)"); strings.TrimSpace(r.Stdout()) != "1" {
		t.Errorf("new session after the cull: %+v", r)
	}
	if b, err := os.ReadFile(srv.LogPath); err != nil || strings.Contains(string(b), srv.Creds.SecretKey) {
		t.Errorf("the server's log holds its secret key (or cannot be read: %v)", err)
	}
}
