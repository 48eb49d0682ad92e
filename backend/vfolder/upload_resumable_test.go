package vfolder_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/backend/vfolder"
	"baigo.dev/bai/common/errdefs"
)

// newService opens a fresh SQLite store with one keypair (no resource
// policy: no limits) and a vfolder root.
func newService(t *testing.T) (*vfolder.Service, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "bai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.User.Create().SetEmail("sweep@example.com").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const ak = "AKIASWEEPTEST"
	if err := st.KeyPair.Create().SetID(ak).SetSecretKey("secret").SetUser(u).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := vfolder.New(st, filepath.Join(dir, "vfolders"))
	if err != nil {
		t.Fatal(err)
	}
	return s, ak
}

func staged(t *testing.T, s *vfolder.Service) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root(), ".uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestSweepUploads: an upload without a PATCH for UploadTTL is swept, a
// fresh one and one being written are not, nor is anything else.
func TestSweepUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, ak := newService(t)
	s.UploadTTL = time.Hour
	if _, err := s.Create(ctx, ak, "f"); err != nil {
		t.Fatal(err)
	}
	old, err := s.RequestUpload(ctx, ak, "f", "old.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WriteUpload(ctx, ak, "f", old.Token, 0, 4, bytes.NewReader([]byte("1234"))); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.RequestUpload(ctx, ak, "f", "fresh.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	// old's last PATCH was two hours ago.
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(s.Root(), ".uploads", old.Token), past, past); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepUploads(ctx, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v; want 1", n, err)
	}
	if _, err := s.UploadStatus(ctx, ak, "f", old.Token); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("swept upload's status: %v; want not found", err)
	}
	if up, err := s.UploadStatus(ctx, ak, "f", fresh.Token); err != nil || up.Offset != 0 || up.Size != 10 {
		t.Errorf("fresh upload after the sweep: %+v %v", up, err)
	}

	// A PATCH in progress keeps its upload, however old the clock says it
	// is; the sweep after it is over removes it.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, _ = s.WriteUpload(ctx, ak, "f", fresh.Token, 0, -1, pr)
	}()
	if _, err := pw.Write([]byte("abc")); err != nil { // the handler is now writing
		t.Fatal(err)
	}
	if n, err := s.SweepUploads(ctx, time.Now().Add(48*time.Hour)); err != nil || n != 0 {
		t.Errorf("sweep during a PATCH removed %d, %v; want 0", n, err)
	}
	// Another PATCH or an abort meanwhile is refused.
	if _, _, err := s.WriteUpload(ctx, ak, "f", fresh.Token, 3, 0, bytes.NewReader(nil)); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("concurrent PATCH: %v; want conflict", err)
	}
	if err := s.AbortUpload(ctx, ak, "f", fresh.Token); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("abort during a PATCH: %v; want conflict", err)
	}
	pw.CloseWithError(errors.New("client went away"))
	wg.Wait()
	if up, err := s.UploadStatus(ctx, ak, "f", fresh.Token); err != nil || up.Offset != 3 {
		t.Errorf("after the broken PATCH: %+v %v; want offset 3", up, err)
	}
	if n, err := s.SweepUploads(ctx, time.Now().Add(48*time.Hour)); err != nil || n != 1 {
		t.Errorf("sweep after the PATCH removed %d, %v; want 1", n, err)
	}

	// Crash leftovers go once they are old; nothing stays.
	junk := filepath.Join(s.Root(), ".uploads", "0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(junk, []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SweepUploads(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(junk); err != nil {
		t.Errorf("a fresh orphan was swept at once: %v", err)
	}
	if _, err := s.SweepUploads(ctx, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if left := staged(t, s); len(left) != 0 {
		t.Errorf("staging holds %v", left)
	}
}

// TestSweepUploadsOfDeletedFolders: uploads whose folder is gone from the
// database (a crash between the two deletions) are swept at once.
func TestSweepUploadsOfDeletedFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, ak := newService(t)
	f, err := s.Create(ctx, ak, "gone")
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.RequestUpload(ctx, ak, "gone", "x", 5)
	if err != nil {
		t.Fatal(err)
	}
	// Past the service, as a crashed manager would have left it.
	raw, err := store.Open(ctx, filepath.Join(filepath.Dir(s.Root()), "bai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.VFolder.DeleteOneID(f.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepUploads(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), ".uploads", up.Token)); !os.IsNotExist(err) {
		t.Errorf("staged data of a deleted folder: %v", err)
	}
}
