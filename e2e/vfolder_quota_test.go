package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
)

// TestVFolderQuotaMidUpload: with a resource policy whose max_vfolder_size
// is 1 MiB, an upload of a 1 GiB file (sparse on the client's disk) is
// refused with 412 while it is still being sent (the client had not sent
// the whole body when the answer came), and leaves nothing behind: the
// folder lists only what was there before, and the vfolder root's .tmp
// holds no half-written file. Uploads within the quota go on working. The
// policy is changed on a server of the test's own, so no other test's
// folders are limited.
func TestVFolderQuotaMidUpload(t *testing.T) {
	t.Parallel()
	const quota = 1 << 20
	const big = 1 << 30
	srv := startOwnServer(t, "", "")
	ctx := testCtx(t, 120*time.Second)
	cc := srv.Client()
	if _, err := cc.SetResourcePolicy(ctx, "tiny-folders", map[string]any{"max_vfolder_size": quota}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.SetKeyPairPolicy(ctx, srv.Creds.AccessKey, "tiny-folders"); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Endpoint: srv.Creds.Endpoint, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	folder := uniqueName(t)
	if _, err := c.CreateFolder(ctx, folder); err != nil {
		t.Fatalf("create folder: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DeleteFolder(cctx, folder); err != nil {
			t.Errorf("cleanup: delete folder %s: %v", folder, err)
		}
	})

	dir := t.TempDir()
	local := func(name string, size int64) client.UploadFile {
		t.Helper()
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		// A sparse file reads as zeros: the server counts bytes, not content.
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return client.UploadFile{Name: name, Path: p, Size: size}
	}
	if err := c.FolderUpload(ctx, folder, []client.UploadFile{local("keep.bin", 100<<10)}, nil); err != nil {
		t.Fatalf("upload within the quota: %v", err)
	}

	var sent atomic.Int64
	err = c.FolderUpload(ctx, folder, []client.UploadFile{local("big.bin", big)}, func(n, _ int64) { sent.Store(n) })
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusPreconditionFailed {
		t.Fatalf("upload of %d bytes past a %d-byte quota: %v, want a 412 answer", big, quota, err)
	}
	if !errors.Is(err, errdefs.ErrQuotaExceeded) {
		t.Errorf("412 error %v does not match errdefs.ErrQuotaExceeded", err)
	}
	t.Logf("refused after the client had sent %d of %d bytes: %v", sent.Load(), big, err)
	// The server answered before reading the whole body: a refusal at the
	// end (after buffering the file) would let the client send it all.
	if s := sent.Load(); s >= big {
		t.Errorf("the client sent all %d bytes before the 412: the quota was not enforced mid-upload", s)
	}

	files, err := c.FolderFiles(ctx, folder, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if len(names) != 1 || names[0] != "keep.bin" {
		t.Errorf("files after the refused upload: %v, want only [keep.bin]", names)
	}
	tmp := filepath.Join(srv.Opts.DataDir, "vfolders", ".tmp")
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatalf("read the vfolder root's .tmp: %v", err)
	}
	for _, e := range left {
		t.Errorf("partial upload left in %s: %s", tmp, e.Name())
	}

	// The refusal spoils nothing: a file within what is left still goes in.
	if err := c.FolderUpload(ctx, folder, []client.UploadFile{local("more.bin", 100<<10)}, nil); err != nil {
		t.Errorf("upload within the quota after the refusal: %v", err)
	}
}
