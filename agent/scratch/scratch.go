// Package scratch caps the size of a kernel's work directory (/home/work in
// its container), so that a session cannot fill the agent's disk: the
// directory is the mount point of an ext4 file system kept in a sparse
// image file beside it, loop-mounted nosuid,nodev. A write past the cap
// fails with ENOSPC inside the session and nowhere else.
//
//	Mount:   truncate img to size ─▶ mkfs.ext4 ─▶ mount -o loop ─▶ rm lost+found
//	Unmount: umount (lazily when busy; the loop device clears itself) ─▶ rm img
//
// It needs root, mkfs.ext4 and loop devices; Probe says whether this host
// has them.
package scratch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ImageName is the image file's name in the kernel dir.
const ImageName = "scratch.img"

// MinSize is the smallest cap: below it ext4 leaves too little room.
const MinSize = 8 << 20

// probeSize is the size of the trial image Probe mounts.
const probeSize = 16 << 20

// Probe says whether this host can make capped scratch directories (nil
// when it can): the agent must be root, mkfs.ext4, mount and losetup must
// be installed, and a trial image in dir must mount.
func Probe(ctx context.Context, dir string) error {
	if os.Geteuid() != 0 {
		return errors.New("the agent does not run as root, so it cannot mount file systems")
	}
	for _, tool := range []struct{ name, pkg string }{{"mkfs.ext4", "e2fsprogs"}, {"mount", "mount"}, {"losetup", "mount"}} {
		if _, err := exec.LookPath(tool.name); err != nil {
			return fmt.Errorf("%s is not installed (package %s)", tool.name, tool.pkg)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return errors.New("this host has no loop devices (/dev/loop-control is missing; in a container, it needs them passed in)")
	}
	img, mnt := filepath.Join(dir, ".scratch-probe.img"), filepath.Join(dir, ".scratch-probe")
	if err := Unmount(mnt, img); err != nil { // a crashed earlier probe
		return fmt.Errorf("remove an earlier trial mount: %w", err)
	}
	_ = os.RemoveAll(mnt)
	if err := os.Mkdir(mnt, 0o700); err != nil {
		return err
	}
	err := Mount(ctx, img, mnt, probeSize)
	if err == nil {
		err = visibleToDocker(mnt)
	}
	if uerr := Unmount(mnt, img); err == nil {
		err = uerr
	}
	_ = os.Remove(mnt)
	if err != nil {
		return fmt.Errorf("trial mount in %s: %w", dir, err)
	}
	return nil
}

// visibleToDocker checks that a mount the agent made on dir is what dockerd
// sees there: an agent in a mount namespace of its own (a systemd unit with
// PrivateMounts, a container) would otherwise give sessions the empty
// directory under the mount, uncapped. It looks through dockerd's
// /proc/PID/root when its pid file is in reach, and passes otherwise.
func visibleToDocker(dir string) error {
	var pid string
	for _, f := range []string{"/run/docker.pid", "/var/run/docker.pid"} {
		if b, err := os.ReadFile(f); err == nil {
			pid = strings.TrimSpace(string(b))
			break
		}
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return nil
	}
	marker := filepath.Join(dir, ".bai-probe")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return err
	}
	defer os.Remove(marker)
	root := "/proc/" + pid + "/root"
	if _, err := os.Stat(root); err != nil {
		return nil // dockerd is gone or elsewhere; nothing to compare
	}
	if _, err := os.Stat(root + marker); err != nil {
		return fmt.Errorf("dockerd (pid %s) does not see the mounts the agent makes (the agent runs in a mount namespace of its own?)", pid)
	}
	return nil
}

// Mount makes img, a new sparse file of size bytes, an ext4 file system
// and mounts it on dir (an existing empty directory). On error nothing is
// left mounted and img is gone.
func Mount(ctx context.Context, img, dir string, size int64) (err error) {
	if size < MinSize {
		return fmt.Errorf("scratch size %d is below the minimum %d", size, MinSize)
	}
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("scratch image: %w", err)
	}
	defer func() {
		if err != nil {
			_ = Unmount(dir, img)
		}
	}()
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("scratch image: %w", err)
	}
	// Lazy init: the inode tables and the journal are not written now,
	// which keeps the image sparse and mkfs in the milliseconds.
	if err := run(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", img); err != nil {
		return err
	}
	// discard: space freed in the session is freed in the image too.
	if err := run(ctx, "mount", "-t", "ext4", "-o", "loop,nosuid,nodev,discard", img, dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, "lost+found")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("scratch: %w", err)
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Unmount unmounts dir when something is mounted there (lazily when it is
// still in use; the loop device then clears itself once the last user is
// gone), detaches any loop device still backed by img and removes img.
// Nothing mounted and no img is no error.
func Unmount(dir, img string) error {
	mounted, err := IsMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		err := unix.Unmount(dir, unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(dir, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	detachLoops(img)
	if err := os.Remove(img); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", img, err)
	}
	return nil
}

// detachLoops detaches the loop devices backed by img (normally none: a
// loop mount's device clears itself at unmount).
func detachLoops(img string) {
	devs, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, p := range devs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		back := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if back != img {
			continue
		}
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(p)))
		f, err := os.OpenFile(dev, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		// On a device still in use this only marks it to clear itself.
		_ = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
		_ = f.Close()
	}
}

// IsMountPoint reports whether something is mounted on dir, according to
// this process's /proc/self/mountinfo.
func IsMountPoint(dir string) (bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mountinfo: %w", err)
	}
	return inMountinfo(b, filepath.Clean(dir)), nil
}

// inMountinfo reports whether dir is a mount point in a mountinfo table.
func inMountinfo(mountinfo []byte, dir string) bool {
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 && unescape(f[4]) == dir {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
