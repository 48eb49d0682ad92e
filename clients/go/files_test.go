package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/internal/servertest"
)

// TestFiles moves files through a real in-process manager and agent.
func TestFiles(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{Agent: true})
	c, err := client.New(client.Config{Endpoint: s.URL, AccessKey: s.Creds.AccessKey, SecretKey: s.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.CreateSession(ctx, apitypes.CreateSession{Image: "python", Name: "sdkfiles"}); err != nil {
		t.Fatal(err)
	}

	// 25 files: more than one request's worth.
	src := t.TempDir()
	for i := 0; i < 25; i++ {
		p := filepath.Join(src, "many", fmt.Sprintf("f%02d.txt", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, bytes.Repeat([]byte{'x'}, 1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := client.CollectUploads([]string{filepath.Join(src, "many")}, false)
	if err != nil || len(files) != 25 || files[0].Name != "many/f00.txt" {
		t.Fatalf("CollectUploads = %+v, %v", files, err)
	}
	var last, total int64
	if err := c.Upload(ctx, "sdkfiles", files, func(sent, tot int64) { last, total = sent, tot }); err != nil {
		t.Fatal(err)
	}
	if last != total || total != 25*1000+300 {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	l, err := c.ListFiles(ctx, "sdkfiles", "many")
	if err != nil || len(l.Files) != 25 || l.Abspath != "/home/work/many" || l.Files[3].Size != 1003 || l.Files[3].Type != "file" || l.Files[3].Mtime.IsZero() {
		t.Fatalf("ListFiles = %+v, %v", l, err)
	}
	var buf bytes.Buffer
	if n, err := c.DownloadSingle(ctx, "sdkfiles", "many/f24.txt", &buf); err != nil || n != 1024 {
		t.Fatalf("DownloadSingle = %d, %v", n, err)
	}
	if _, err := c.DownloadSingle(ctx, "sdkfiles", "many", &buf); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("DownloadSingle of a dir = %v", err)
	}
	dest := t.TempDir()
	got, err := c.Download(ctx, "sdkfiles", []string{"many"}, dest)
	if err != nil || len(got) != 25 {
		t.Fatalf("Download = %v, %v", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "many", "f10.txt")); err != nil || len(b) != 1010 {
		t.Errorf("downloaded f10.txt: %d bytes, %v", len(b), err)
	}
	if _, err := c.ListFiles(ctx, "nosuchsession", ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ListFiles of an unknown session = %v", err)
	}
}
