package scratch_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"baigo.dev/bai/agent/scratch"
)

// needMount skips when this machine cannot loop-mount (not root, no
// mkfs.ext4 or loop devices); Probe says why.
func needMount(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := scratch.Probe(context.Background(), dir); err != nil {
		t.Skipf("this machine cannot make capped scratch dirs: %v", err)
	}
	return dir
}

// TestMountCapUnmount: writes past the size fail with ENOSPC, deleting
// frees the space, and Unmount leaves neither mount nor image.
func TestMountCapUnmount(t *testing.T) {
	dir := needMount(t)
	img, work := filepath.Join(dir, scratch.ImageName), filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := scratch.Mount(context.Background(), img, work, 32<<20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = scratch.Unmount(work, img) })
	if ok, err := scratch.IsMountPoint(work); err != nil || !ok {
		t.Fatalf("not mounted: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(work, "lost+found")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lost+found: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(work, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * st.Bsize; size < 24<<20 || size > 32<<20 {
		t.Errorf("file system size %d, want about 32 MiB", size)
	}
	// Sparse: the image holds far less than its size on the host.
	var ist syscall.Stat_t
	if err := syscall.Stat(img, &ist); err != nil {
		t.Fatal(err)
	}
	t.Logf("image: size %d, %d bytes on disk", ist.Size, ist.Blocks*512)

	fill := filepath.Join(work, "fill")
	err := os.WriteFile(fill, bytes.Repeat([]byte("x"), 40<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 40 MiB into 32: %v", err)
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fill, bytes.Repeat([]byte("x"), 16<<20), 0o644); err != nil {
		t.Fatalf("space not freed: %v", err)
	}

	// Busy (an open file): unmounted lazily all the same.
	f, err := os.Open(fill)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := scratch.Unmount(work, img); err != nil {
		t.Fatal(err)
	}
	if ok, _ := scratch.IsMountPoint(work); ok {
		t.Error("still mounted after Unmount")
	}
	if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image left: %v", err)
	}
	if err := scratch.Unmount(work, img); err != nil {
		t.Errorf("a second Unmount: %v", err)
	}
}

func TestMountRefusesTiny(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := scratch.Mount(context.Background(), filepath.Join(dir, "img"), dir, 1<<20)
	if err == nil {
		t.Fatal("a 1 MiB scratch was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "img")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image left: %v", err)
	}
}

// BenchmarkMount measures what a capped scratch dir adds to a kernel's
// start (make, mkfs, mount) and to its end (unmount, remove), at the
// default size.
func BenchmarkMount(b *testing.B) {
	dir := needMount(b)
	var up, down time.Duration
	for i := 0; i < b.N; i++ {
		img, work := filepath.Join(dir, scratch.ImageName), filepath.Join(dir, "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := scratch.Mount(context.Background(), img, work, 10<<30); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := scratch.Unmount(work, img); err != nil {
			b.Fatal(err)
		}
		down += time.Since(t1)
		up += t1.Sub(t0)
		_ = os.Remove(work)
	}
	b.ReportMetric(float64(up.Microseconds())/float64(b.N)/1000, "ms-mount/op")
	b.ReportMetric(float64(down.Microseconds())/float64(b.N)/1000, "ms-unmount/op")
}
