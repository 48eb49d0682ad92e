package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/internal/servertest"
)

// cuttingProxy relays TCP to upstream and, once armed, cuts the connection
// that has carried cutAfter bytes towards the server: a network that
// drops in the middle of an upload.
type cuttingProxy struct {
	ln       net.Listener
	upstream string
	cutAfter int64
	armed    atomic.Bool
	cuts     atomic.Int32
}

func newCuttingProxy(t *testing.T, upstream string, cutAfter int64) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, upstream: upstream, cutAfter: cutAfter}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c)
		}
	}()
	return p
}

func (p *cuttingProxy) relay(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.armed.Load() && sent+int64(n) > p.cutAfter && p.armed.CompareAndSwap(true, false) {
				_, _ = up.Write(buf[:p.cutAfter-sent])
				p.cuts.Add(1)
				return // both ends close
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
		}
		if err != nil {
			return
		}
	}
}

func TestFolderUploadResumable(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	proxy := newCuttingProxy(t, s.Addr(), 1<<20)
	c, err := client.New(client.Config{Endpoint: "http://" + proxy.ln.Addr().String(), AccessKey: s.Creds.AccessKey, SecretKey: s.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.CreateFolder(ctx, "res"); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 3<<20)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	download := func(p string) []byte {
		t.Helper()
		var buf bytes.Buffer
		if _, err := c.FolderDownload(ctx, "res", p, &buf); err != nil {
			t.Fatalf("download %s: %v", p, err)
		}
		return buf.Bytes()
	}

	// The connection breaks a third of the way in: the SDK asks for the
	// offset and sends the rest.
	proxy.armed.Store(true)
	var state client.ResumableUpload
	var last, total int64
	err = c.FolderUploadResumable(ctx, "res", "a/b.bin", bytes.NewReader(payload), int64(len(payload)), &state, func(sent, tot int64) { last, total = sent, tot })
	if err != nil {
		t.Fatalf("upload across a broken connection: %v", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d connections; the test needs 1", proxy.cuts.Load())
	}
	if state.Offset != int64(len(payload)) || len(state.Token) != 32 || last != total || total != int64(len(payload)) {
		t.Errorf("state %+v, progress %d of %d", state, last, total)
	}
	if got := download("a/b.bin"); !bytes.Equal(got, payload) {
		t.Fatalf("uploaded file differs (%d bytes)", len(got))
	}

	// Another run resumes a token from where the server stands.
	up, err := c.FolderRequestUpload(ctx, "res", "c.bin", int64(len(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if off, done, err := c.FolderUploadChunk(ctx, "res", up.Token, 0, bytes.NewReader(payload[:1000]), 1000); err != nil || off != 1000 || done {
		t.Fatalf("first chunk: %d %v %v", off, done, err)
	}
	if _, _, err := c.FolderUploadChunk(ctx, "res", up.Token, 0, bytes.NewReader(payload[:10]), 10); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("chunk at a stale offset: %v; want conflict", err)
	}
	if st, err := c.FolderUploadStatus(ctx, "res", up.Token); err != nil || st.Offset != 1000 || st.Size != int64(len(payload)) {
		t.Fatalf("status: %+v %v", st, err)
	}
	var first int64 = -1
	resume := client.ResumableUpload{Token: up.Token}
	err = c.FolderUploadResumable(ctx, "res", "c.bin", bytes.NewReader(payload), int64(len(payload)), &resume, func(sent, _ int64) {
		if first < 0 {
			first = sent
		}
	})
	if err != nil || first != 1000 {
		t.Fatalf("resume: %v (progress started at %d)", err, first)
	}
	if got := download("c.bin"); !bytes.Equal(got, payload) {
		t.Fatalf("resumed file differs (%d bytes)", len(got))
	}

	// A token that is gone is not found, so the caller starts over.
	err = c.FolderUploadResumable(ctx, "res", "c.bin", bytes.NewReader(payload), int64(len(payload)), &resume, nil)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("resume of a finished upload: %v; want not found", err)
	}
	ab, err := c.FolderRequestUpload(ctx, "res", "d.bin", 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FolderAbortUpload(ctx, "res", ab.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FolderUploadStatus(ctx, "res", ab.Token); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("status after abort: %v; want not found", err)
	}
}
