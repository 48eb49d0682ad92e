package vfolder

import (
	"os"
	"syscall"
)

// renameInto moves the file src into the directory dir under name; renameat
// works relative to dir's descriptor, so the name cannot be redirected by a
// symlink higher up the path.
func renameInto(src string, dir *os.File, name string) error {
	if err := syscall.Renameat(-100 /* AT_FDCWD */, src, int(dir.Fd()), name); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: name, Err: err}
	}
	return nil
}
