package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/devserver"
)

// Storage throughput: one file of -storage-mib MiB written and read back
// three ways in one run, next to a plain `cp` of a file of the same size on
// the vfolder root's file system (the disk all three end up on):
//
//	API      the Go SDK's FolderUpload of a local file, then FolderDownload
//	         to io.Discard, timed by the client (HTTP, multipart, the
//	         server's temp file and rename); and FolderUploadResumable of
//	         the same file (the resumable protocol's PATCHes)
//	mounted  dd from /dev/zero to /home/work/<folder>/f in a session that
//	         mounts the folder, then dd of it to /dev/null, timed inside
//	         the container (the bind mount's cost alone)
//	cp       cp of a file on the same file system, and dd of it to
//	         /dev/null, on the host
//
// None of them syncs: each measures what a user waits for, page cache
// included, and the sizes are the same, so dirty-page throttling hits them
// alike. At most two files of the size exist at once; every one is deleted
// before the next step.

// storageRow is one line of the storage table.
type storageRow struct {
	path        string
	write, read time.Duration
}

// benchStorage measures the three paths with files of mib MiB.
func benchStorage(ctx context.Context, srv *devserver.Server, image string, mib int, log *slog.Logger, out io.Writer) error {
	size := int64(mib) << 20
	sdk, err := client.New(client.Config{Endpoint: srv.Creds.Endpoint, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		return err
	}
	// The server keeps folders under DATA_DIR/vfolders; the baseline's
	// scratch folder sits beside it, on the same file system.
	root := filepath.Join(srv.Opts.DataDir, "vfolders")
	scratch := filepath.Join(srv.Opts.DataDir, "bench-storage")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if !sameDevice(root, scratch) {
		return fmt.Errorf("storage bench: %s and %s are on different file systems", root, scratch)
	}
	src := filepath.Join(scratch, "src")
	// Random bytes, so no layer can shortcut zeros (cp's hole detection).
	if err := writeRandomFile(src, size); err != nil {
		return err
	}
	var rows []storageRow

	// 1. Baseline: cp on the host, then read the copy back.
	log.Info("storage bench: cp baseline", "mib", mib)
	dst := filepath.Join(scratch, "dst")
	start := time.Now()
	if b, err := exec.CommandContext(ctx, "cp", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, b)
	}
	cpDur := time.Since(start)
	start = time.Now()
	if b, err := exec.CommandContext(ctx, "dd", "if="+dst, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
		return fmt.Errorf("dd read: %v: %s", err, b)
	}
	rows = append(rows, storageRow{"cp on the vfolder root's file system (baseline; read: dd to /dev/null)", cpDur, time.Since(start)})
	if err := os.Remove(dst); err != nil {
		return err
	}

	// 2. Through the API.
	folder := fmt.Sprintf("bench-storage-%d", os.Getpid())
	if _, err := sdk.CreateFolder(ctx, folder); err != nil {
		return fmt.Errorf("storage bench folder: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sdk.DeleteFolder(cctx, folder); err != nil {
			log.Warn("delete bench folder", "folder", folder, "err", err)
		}
	}()
	log.Info("storage bench: API upload and download", "mib", mib)
	start = time.Now()
	if err := sdk.FolderUpload(ctx, folder, []client.UploadFile{{Name: "f", Path: src, Size: size}}, nil); err != nil {
		return err
	}
	up := time.Since(start)
	// The resumable protocol (64 MiB PATCHes, what bai folder upload uses
	// for big files) on the same file, before the source is removed.
	log.Info("storage bench: resumable API upload", "mib", mib)
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	start = time.Now()
	err = sdk.FolderUploadResumable(ctx, folder, "r", f, size, &client.ResumableUpload{}, nil)
	resumable := time.Since(start)
	f.Close()
	if err != nil {
		return fmt.Errorf("resumable upload: %w", err)
	}
	if err := sdk.FolderDeleteFiles(ctx, folder, []string{"r"}, false); err != nil {
		return err
	}
	if err := os.Remove(src); err != nil {
		return err
	}
	start = time.Now()
	n, err := sdk.FolderDownload(ctx, folder, "f", io.Discard)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("downloaded %d bytes, uploaded %d", n, size)
	}
	down := time.Since(start)
	rows = append(rows, storageRow{"API (SDK FolderUpload / FolderDownload)", up, down})
	rows = append(rows, storageRow{"API, resumable upload (64 MiB PATCHes; read: as above)", resumable, down})
	if err := sdk.FolderDeleteFiles(ctx, folder, []string{"f"}, false); err != nil {
		return err
	}

	// 3. Through the mount, timed inside the container.
	log.Info("storage bench: mounted folder", "mib", mib)
	res, err := sdk.CreateSession(ctx, apitypes.CreateSession{Image: image, Name: fmt.Sprintf("bench-storage-%d", os.Getpid()),
		Config: &apitypes.CreateConfig{Mounts: []string{folder}}})
	if err != nil {
		return fmt.Errorf("storage bench session: %w", err)
	}
	// Destroyed here rather than by the caller's cleanup: the folder can
	// be deleted (the deferred delete above) only once no session mounts it.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := srv.Client().Destroy(cctx, res.SessionID, true); err != nil {
			log.Warn("destroy", "session_id", res.SessionID, "err", err)
		}
	}()
	if err := waitRunningID(ctx, srv.Client(), res.SessionID); err != nil {
		return err
	}
	ids, err := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "label="+types.LabelSessionID+"="+res.SessionID).Output()
	if err != nil || len(strings.Fields(string(ids))) != 1 {
		return fmt.Errorf("container of session %s: %q %v", res.SessionID, ids, err)
	}
	cid := strings.Fields(string(ids))[0]
	file := "/home/work/" + folder + "/f"
	// The shell prints the nanoseconds dd took, read off the container's
	// clock around it, so docker exec's own start is not counted.
	timed := func(dd string) (time.Duration, error) {
		script := `s=$(date +%s%N); ` + dd + ` 2>/dev/null || exit 1; e=$(date +%s%N); echo $((e-s))`
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "docker", "exec", "-u", "1000:1000", cid, "sh", "-c", script)
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("%s in the session: %v: %s", dd, err, stderr.String())
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s in the session printed %q", dd, b)
		}
		return time.Duration(ns), nil
	}
	w, err := timed(fmt.Sprintf("dd if=/dev/zero of=%s bs=1M count=%d", file, mib))
	if err != nil {
		return err
	}
	r, err := timed(fmt.Sprintf("dd if=%s of=/dev/null bs=1M", file))
	if err != nil {
		return err
	}
	rows = append(rows, storageRow{"mounted folder (dd in the session)", w, r})
	if b, err := exec.CommandContext(ctx, "docker", "exec", "-u", "1000:1000", cid, "rm", "-f", file).CombinedOutput(); err != nil {
		return fmt.Errorf("rm %s in the session: %v: %s", file, err, b)
	}

	fmt.Fprintf(out, "\nstorage throughput (%d MiB file; MB/s = 10^6 bytes/s; no sync: page cache included)\n\n", mib)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\twrite / upload\tread / download\tvs baseline (write, read)")
	fmt.Fprintln(tw, "----\t--------------\t---------------\t-------------------------")
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%.0f MB/s (%v)\t%.0f MB/s (%v)\t%.2f×, %.2f×\n", row.path,
			mbps(row.write), row.write.Round(time.Millisecond), mbps(row.read), row.read.Round(time.Millisecond),
			mbps(row.write)/mbps(rows[0].write), mbps(row.read)/mbps(rows[0].read))
		log.Info("storage bench", "path", row.path, "write", row.write, "read", row.read)
	}
	return tw.Flush()
}

// writeRandomFile writes size bytes of a repeated random 1 MiB block.
func writeRandomFile(p string, size int64) error {
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	for left := size; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// sameDevice reports whether a and b are on one file system.
func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// waitRunningID polls a session until it is RUNNING.
func waitRunningID(ctx context.Context, c *compat.Client, id string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		si, _, err := c.Info(ctx, id)
		if err != nil {
			return err
		}
		switch st := types.SessionStatus(si.Status); {
		case st == types.StatusRunning:
			return nil
		case st.Final():
			return fmt.Errorf("session %s ended %s: %s", id, si.Status, si.StatusInfo)
		case time.Now().After(deadline):
			return fmt.Errorf("session %s still %s after 60s", id, si.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
