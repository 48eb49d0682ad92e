package jupyter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// InstallOptions say what Install writes.
type InstallOptions struct {
	// Dir is the kernels directory (e.g. ~/.local/share/jupyter/kernels).
	Dir string
	// NamePrefix starts every kernel name ("bai-").
	NamePrefix string
	// Executable is the absolute path of the bai binary.
	Executable string
	// Env is written into every kernelspec's env (the keypair, with
	// --with-keys); the files are then readable by their owner only.
	Env map[string]string
	// Images limits the install to these images (names or aliases); all
	// images when empty.
	Images []string
}

// Installed is one kernelspec written by Install.
type Installed struct {
	Name  string // kernel name, the directory under Dir
	Path  string // its kernel.json
	Image string
	Spec  kernelcore.Kernelspec
}

// Install writes one kernelspec per image into o.Dir and returns what it
// wrote, sorted by kernel name. Existing kernelspecs of the same names are
// replaced.
func Install(images []apitypes.ImageInfo, o InstallOptions) ([]Installed, error) {
	if !filepath.IsAbs(o.Executable) {
		return nil, fmt.Errorf("bai executable %q: want an absolute path: %w", o.Executable, errdefs.ErrInvalidArgument)
	}
	selected, err := selectImages(images, o.Images)
	if err != nil {
		return nil, err
	}
	names := kernelcore.KernelNames(o.NamePrefix, selected)
	var out []Installed
	for _, im := range selected {
		argv := []string{o.Executable, "jupyter", "kernel", "--image", im.Name, "--connection-file", "{connection_file}"}
		spec := kernelcore.NewKernelspec(im, argv, o.Env)
		dir := filepath.Join(o.Dir, names[im.Name])
		path, err := writeKernelspec(dir, spec, len(o.Env) > 0)
		if err != nil {
			return out, err
		}
		out = append(out, Installed{Name: names[im.Name], Path: path, Image: im.Name, Spec: spec})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// selectImages keeps the images named (by name or alias) in want.
func selectImages(images []apitypes.ImageInfo, want []string) ([]apitypes.ImageInfo, error) {
	if len(want) == 0 {
		if len(images) == 0 {
			return nil, fmt.Errorf("the manager offers no images (is an agent connected?): %w", errdefs.ErrNotFound)
		}
		return images, nil
	}
	var out []apitypes.ImageInfo
	for _, w := range want {
		im, ok := kernelcore.FindImage(images, w)
		if !ok {
			var avail []string
			for _, im := range images {
				avail = append(avail, im.Name)
			}
			return nil, fmt.Errorf("image %q is not offered by the manager (available: %s): %w", w, strings.Join(avail, ", "), errdefs.ErrNotFound)
		}
		out = append(out, im)
	}
	return out, nil
}

// writeKernelspec writes dir/kernel.json through a temporary file, so a
// front end never reads half a file. With secrets in it, the directory and
// file are for their owner only.
func writeKernelspec(dir string, spec kernelcore.Kernelspec, secret bool) (string, error) {
	dirMode, fileMode := os.FileMode(0o755), os.FileMode(0o644)
	if secret {
		dirMode, fileMode = 0o700, 0o600
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return "", fmt.Errorf("kernelspec directory: %w", err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return "", fmt.Errorf("kernelspec directory: %w", err)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode kernelspec: %w", err)
	}
	f, err := os.CreateTemp(dir, ".kernel-*.json")
	if err != nil {
		return "", fmt.Errorf("write kernelspec: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return "", fmt.Errorf("write kernelspec: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return "", fmt.Errorf("write kernelspec: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write kernelspec: %w", err)
	}
	path := filepath.Join(dir, "kernel.json")
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("write kernelspec: %w", err)
	}
	return path, nil
}
