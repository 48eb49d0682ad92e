package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"baigo.dev/bai/backend/store"
	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// sdkAs is a Go SDK client of the shared server with the given keypair.
func sdkAs(t *testing.T, ak, sk string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: st.shared.Creds.Endpoint, AccessKey: ak, SecretKey: sk})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newFolder creates a folder with a unique name, deleted at cleanup.
func newFolder(t *testing.T, c *client.Client) string {
	t.Helper()
	name := uniqueName(t)
	if _, err := c.CreateFolder(testCtx(t, 30*time.Second), name); err != nil {
		t.Fatalf("create folder: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DeleteFolder(ctx, name); err != nil {
			t.Errorf("cleanup: delete folder %s: %v", name, err)
		}
	})
	return name
}

// mountedSession creates a running python session that mounts folders,
// destroyed at cleanup; cc runs code in it.
func mountedSession(t *testing.T, c *client.Client, cc *compat.Client, folders ...string) string {
	t.Helper()
	name := uniqueName(t)
	res, err := c.CreateSession(testCtx(t, 90*time.Second), apitypes.CreateSession{Image: imageName, Name: name,
		Config: &apitypes.CreateConfig{Mounts: folders}})
	if err != nil {
		t.Fatalf("create session mounting %v: %v", folders, err)
	}
	remember(res.SessionID)
	t.Cleanup(func() { destroyQuietly(t, cc, res.SessionID) })
	if res.Status != string(types.StatusRunning) {
		waitStatus(t, cc, res.SessionID, 60*time.Second, string(types.StatusRunning))
	}
	return name
}

// addKeypair adds a regular user with one keypair to the shared server's
// database (the API has no user creation yet) and returns its keys.
func addKeypair(t *testing.T) (ak, sk string) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	s, err := store.Open(ctx, filepath.Join(st.shared.Opts.DataDir, "bai.db"))
	if err != nil {
		t.Fatalf("open the shared server's database: %v", err)
	}
	defer s.Close()
	var b [10]byte
	_, _ = rand.Read(b[:])
	u, err := s.User.Create().SetEmail("vf-" + hex.EncodeToString(b[:4]) + "@example.com").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ak, sk = "AKIAVF"+strings.ToUpper(hex.EncodeToString(b[:6])), hex.EncodeToString(b[:])+hex.EncodeToString(b[:])
	if err := s.KeyPair.Create().SetID(ak).SetSecretKey(sk).SetUser(u).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return ak, sk
}

// TestVFolderOutlivesSessions writes into a mounted folder from one
// session and reads it from a fresh one and through the API.
func TestVFolderOutlivesSessions(t *testing.T) {
	t.Parallel()
	cr := st.shared.Creds
	c, cc := sdkAs(t, cr.AccessKey, cr.SecretKey), st.shared.Client()
	folder := newFolder(t, c)

	// A directory made through the API is the session user's to write in.
	if err := c.FolderMkdir(testCtx(t, 30*time.Second), folder, "out"); err != nil {
		t.Fatal(err)
	}
	first := mountedSession(t, c, cc, folder)
	r := run(t, cc, first, "open('"+folder+"/out/result.txt','w').write('computed 42')\nprint('ok')")
	if r.Stdout() != "ok\n" {
		t.Fatalf("write in the first session: stdout %q stderr %q", r.Stdout(), r.Stderr())
	}
	destroyQuietly(t, cc, first)

	second := mountedSession(t, c, cc, folder)
	r = run(t, cc, second, "print(open('/home/work/"+folder+"/out/result.txt').read())")
	if r.Stdout() != "computed 42\n" {
		t.Fatalf("read in a fresh session: stdout %q stderr %q", r.Stdout(), r.Stderr())
	}
	var buf bytes.Buffer
	if _, err := c.FolderDownload(testCtx(t, 30*time.Second), folder, "out/result.txt", &buf); err != nil || buf.String() != "computed 42" {
		t.Fatalf("download through the API: %q %v", buf.String(), err)
	}
	// A folder the caller does not have cannot be mounted.
	_, err := c.CreateSession(testCtx(t, 30*time.Second), apitypes.CreateSession{Image: imageName, Name: uniqueName(t),
		Config: &apitypes.CreateConfig{Mounts: []string{folder + "-missing"}}})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("mount of a missing folder: %v, want 404", err)
	}
}

// TestVFolderSharedReadOnly shares a folder read-only: the invitee's
// session reads it and its writes fail with a read-only file system.
func TestVFolderSharedReadOnly(t *testing.T) {
	t.Parallel()
	cr := st.shared.Creds
	owner := sdkAs(t, cr.AccessKey, cr.SecretKey)
	folder := newFolder(t, owner)
	src := filepath.Join(t.TempDir(), "shared.txt")
	if err := os.WriteFile(src, []byte("for your eyes"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 60*time.Second)
	if err := owner.FolderUpload(ctx, folder, []client.UploadFile{{Name: "shared.txt", Path: src, Size: 13}}, nil); err != nil {
		t.Fatal(err)
	}
	ak, sk := addKeypair(t)
	guest := sdkAs(t, ak, sk)
	gc := compat.New(cr.Endpoint, ak, sk)
	if _, err := guest.CreateSession(ctx, apitypes.CreateSession{Image: imageName, Name: uniqueName(t),
		Config: &apitypes.CreateConfig{Mounts: []string{folder}}}); err == nil {
		t.Fatal("mounting another keypair's folder before any invitation succeeded")
	}
	if _, err := owner.InviteToFolder(ctx, folder, ak, "ro"); err != nil {
		t.Fatal(err)
	}
	invs, err := guest.FolderInvitations(ctx)
	if err != nil || len(invs) != 1 {
		t.Fatalf("invitations: %+v %v", invs, err)
	}
	if err := guest.AcceptFolderInvitation(ctx, invs[0].ID); err != nil {
		t.Fatal(err)
	}
	sess := mountedSession(t, guest, gc, folder)
	code := `import errno
print(open('` + folder + `/shared.txt').read())
for p in ['` + folder + `/new.txt', '` + folder + `/shared.txt']:
    try:
        open(p, 'a').write('x')
        print('wrote', p)
    except OSError as e:
        print('refused', errno.errorcode[e.errno])
`
	r := run(t, gc, sess, code)
	out := r.Stdout()
	t.Logf("invitee's session: %q", out)
	if !strings.HasPrefix(out, "for your eyes\n") || strings.Contains(out, "wrote") || strings.Count(out, "refused E") != 2 {
		t.Fatalf("read-only share: stdout %q stderr %q", out, r.Stderr())
	}
	if !strings.Contains(out, "EROFS") && !strings.Contains(out, "EPERM") && !strings.Contains(out, "EACCES") {
		t.Errorf("writes refused with an unexpected errno: %q", out)
	}
	files, err := owner.FolderFiles(ctx, folder, "")
	if err != nil || len(files) != 1 {
		t.Fatalf("folder after the invitee's attempts: %+v %v", files, err)
	}
}

// TestVFolderCLI round-trips a file through `bai folder upload` and
// `bai folder download`.
func TestVFolderCLI(t *testing.T) {
	t.Parallel()
	env := sharedEnv()
	folder := uniqueName(t)
	if r := bai(t, env, 30*time.Second, "folder", "create", folder); r.code != 0 {
		t.Fatalf("folder create: %d %s", r.code, r.stderr)
	}
	t.Cleanup(func() { bai(t, env, 30*time.Second, "folder", "rm", folder) })
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	src := filepath.Join(dir, "blob.bin")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	r := bai(t, env, 60*time.Second, "folder", "upload", folder, src)
	if r.code != 0 || !strings.Contains(r.stderr, "(100%)") {
		t.Fatalf("folder upload: %d stderr %q", r.code, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "folder", "files", folder); r.code != 0 || !strings.Contains(r.stdout, "blob.bin") || !strings.Contains(r.stdout, "4194304") {
		t.Fatalf("folder files: %d %q %q", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(dir, "back.bin")
	if r := bai(t, env, 60*time.Second, "folder", "download", folder, "blob.bin", "-o", out); r.code != 0 {
		t.Fatalf("folder download: %d %s", r.code, r.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("downloaded file differs (%d bytes, %v)", len(got), err)
	}
	if r := bai(t, env, 30*time.Second, "folder", "create", "bad/name"); r.code == 0 || !strings.Contains(r.stderr, "must not contain") {
		t.Errorf("bad name: %d %q", r.code, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "folder", "ls"); r.code != 0 || !strings.Contains(r.stdout, folder) {
		t.Errorf("folder ls: %d %q", r.code, r.stdout)
	}
}

// throttle relays TCP connections to upstream, passing at most rate
// bytes a second towards the server while rate > 0, and counts those
// bytes: a slow link to kill an upload on, and a meter of what was sent.
type throttle struct {
	ln       net.Listener
	upstream string
	rate     atomic.Int64
	sent     atomic.Int64
	open     atomic.Int32 // connections being relayed
}

func newThrottle(t *testing.T, upstream string) *throttle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go th.relay(c)
		}
	}()
	return th
}

func (th *throttle) relay(c net.Conn) {
	th.open.Add(1)
	defer th.open.Add(-1)
	defer c.Close()
	up, err := net.Dial("tcp", th.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if r := th.rate.Load(); r > 0 {
				time.Sleep(time.Duration(int64(n) * int64(time.Second) / r)) // rate shaping, not waiting for an event
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
			th.sent.Add(int64(n))
		}
		if err != nil {
			return // the client went away: so does the server's side
		}
	}
}

// TestVFolderResumableUpload: `bai folder upload` of a 48 MiB file is
// killed (SIGKILL) once the server holds part of it; the same command run
// again says it is resuming, sends only the rest, and the file downloaded
// back has the local file's sha256. No staged data and no state file stay.
func TestVFolderResumableUpload(t *testing.T) {
	t.Parallel()
	cr := st.shared.Creds
	c := sdkAs(t, cr.AccessKey, cr.SecretKey)
	folder := newFolder(t, c)
	dir := t.TempDir()
	const size = 48 << 20
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(payload)

	// The CLI talks through a slow link, so there is time to kill it
	// mid-file; the test watches the server directly.
	th := newThrottle(t, strings.TrimPrefix(cr.Endpoint, "http://"))
	th.rate.Store(8 << 20)
	cache := t.TempDir()
	env := []string{"BACKEND_ENDPOINT=http://" + th.ln.Addr().String(), "BACKEND_ACCESS_KEY=" + cr.AccessKey,
		"BACKEND_SECRET_KEY=" + cr.SecretKey, "XDG_CACHE_HOME=" + cache}
	stateDir := filepath.Join(cache, "bai", "uploads")

	ctx := testCtx(t, 3*time.Minute)
	cmd := exec.CommandContext(ctx, filepath.Join(st.binDir, "bai"), "folder", "upload", folder, src)
	cmd.Env = append(os.Environ(), env...)
	var stderr1 bytes.Buffer
	cmd.Stderr = &stderr1
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var token string
	var killedAt int64
	deadline := time.Now().Add(60 * time.Second)
	for killedAt == 0 {
		select {
		case err := <-exited:
			t.Fatalf("the first upload ended (%v) before it could be killed; stderr %q", err, stderr1.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the server never held 8 MiB of the upload; stderr %q", stderr1.String())
		}
		if token == "" {
			if states, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(states) == 1 {
				var s struct {
					Token string `json:"token"`
				}
				if b, err := os.ReadFile(states[0]); err == nil && json.Unmarshal(b, &s) == nil {
					token = s.Token
				}
			}
		}
		if token != "" {
			if up, err := c.FolderUploadStatus(ctx, folder, token); err == nil && up.Offset >= 8<<20 {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killedAt = up.Offset
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-exited
	// What the dead client had already pushed into the link still reaches
	// the server: wait until the link is closed and the offset settles,
	// so the rerun's resend can be measured against what was left.
	var up *client.ResumableUpload
	var err error
	for prev := int64(-1); ; {
		if time.Now().After(deadline) {
			t.Fatalf("the server's offset did not settle after the kill: %+v %v", up, err)
		}
		time.Sleep(100 * time.Millisecond)
		up, err = c.FolderUploadStatus(ctx, folder, token)
		if err == nil && th.open.Load() == 0 && up.Offset == prev {
			break
		}
		if err == nil {
			prev = up.Offset
		}
	}
	if up.Offset >= size || up.Offset < killedAt {
		t.Fatalf("after the kill the server holds %+v; want part of %d bytes, at least %d", up, size, killedAt)
	}
	if files, err := c.FolderFiles(ctx, folder, ""); err != nil || len(files) != 0 {
		t.Fatalf("the partial file shows in the folder: %+v %v", files, err)
	}
	t.Logf("killed the first upload at %d bytes on the server; it settled at %d of %d", killedAt, up.Offset, size)

	th.rate.Store(0)
	before := th.sent.Load()
	r := bai(t, env, 2*time.Minute, "folder", "upload", folder, src)
	if r.code != 0 || !strings.Contains(r.stderr, "resuming big.bin at ") || !strings.Contains(r.stderr, "of 48.0 MiB") {
		t.Fatalf("second upload: %d stderr %q", r.code, r.stderr)
	}
	t.Logf("second upload's stderr: %q", r.stderr)
	// Only the rest went over the wire again (plus headers and a margin
	// for what the server got after its offset was read).
	if resent := th.sent.Load() - before; resent > size-up.Offset+(1<<20) {
		t.Errorf("the resumed upload sent %d bytes; the rest was %d", resent, size-up.Offset)
	}

	out := filepath.Join(dir, "back.bin")
	if r := bai(t, sharedEnv(), time.Minute, "folder", "download", folder, "big.bin", "-o", out); r.code != 0 {
		t.Fatalf("folder download: %d %s", r.code, r.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != want {
		t.Fatalf("downloaded file (%d bytes) differs from the local one", len(got))
	}
	for _, p := range []string{token, token + ".json"} {
		if _, err := os.Stat(filepath.Join(st.shared.Opts.DataDir, "vfolders", ".uploads", p)); !os.IsNotExist(err) {
			t.Errorf("staging still holds %s: %v", p, err)
		}
	}
	if states, _ := filepath.Glob(filepath.Join(stateDir, "*")); len(states) != 0 {
		t.Errorf("state files left in the cache: %v", states)
	}
}
