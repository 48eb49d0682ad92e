package jupyter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// Language describes a runtime type to Jupyter: language_info of
// kernel_info_reply and the kernelspec's language.
type Language struct {
	Name          string // language_info.name, kernelspec "language"
	Pretty        string // for display names: "Python"
	FileExtension string
	MIMEType      string
	Pygments      string
	CodeMirror    string
}

// languages maps our images' runtime types (ai.backend.runtime-type) to
// what Jupyter front ends use for highlighting and file names.
var languages = map[string]Language{
	"python":  {"python", "Python", ".py", "text/x-python", "python3", "python"},
	"nodejs":  {"javascript", "JavaScript (Node.js)", ".js", "application/javascript", "javascript", "javascript"},
	"c":       {"c", "C", ".c", "text/x-csrc", "c", "text/x-csrc"},
	"cpp":     {"c++", "C++", ".cpp", "text/x-c++src", "cpp", "text/x-c++src"},
	"go":      {"go", "Go", ".go", "text/x-go", "go", "go"},
	"java":    {"java", "Java", ".java", "text/x-java", "java", "text/x-java"},
	"rust":    {"rust", "Rust", ".rs", "text/rust", "rust", "rust"},
	"haskell": {"haskell", "Haskell", ".hs", "text/x-haskell", "haskell", "haskell"},
	"lua":     {"lua", "Lua", ".lua", "text/x-lua", "lua", "lua"},
	"perl":    {"perl", "Perl", ".pl", "text/x-perl", "perl", "perl"},
	"php":     {"php", "PHP", ".php", "application/x-httpd-php", "php", "php"},
	"ruby":    {"ruby", "Ruby", ".rb", "text/x-ruby", "ruby", "ruby"},
	"r":       {"R", "R", ".r", "text/x-rsrc", "r", "r"},
	"octave":  {"octave", "Octave", ".m", "text/x-octave", "octave", "octave"},
	"scheme":  {"scheme", "Scheme", ".scm", "text/x-scheme", "scheme", "scheme"},
	"bash":    {"bash", "Bash", ".sh", "text/x-sh", "bash", "shell"},
}

// LanguageOf returns the Language of a runtime type; an unknown one is
// described by its own name, as plain text.
func LanguageOf(runtimeType string) Language {
	if l, ok := languages[runtimeType]; ok {
		return l
	}
	return Language{Name: runtimeType, Pretty: runtimeType, FileExtension: ".txt", MIMEType: "text/plain", Pygments: "text"}
}

// ImageVersion returns the version part of an image's tag, the part
// before the first '-' ("3.11" for python:3.11-debian, "gcc12" for
// c:gcc12-debian); "" when there is no tag.
func ImageVersion(image string) string {
	i := strings.LastIndexByte(image, ':')
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	tag := image[i+1:]
	if j := strings.IndexByte(tag, '-'); j >= 0 {
		tag = tag[:j]
	}
	return tag
}

// LanguageInfo returns the language_info of kernel_info_reply for an
// image of the runtime type. The version is the image tag's version when
// it is a number ("3.11"), since that is the language's version for our
// images; a compiler name such as gcc12 is left out.
func LanguageInfo(runtimeType, image string) map[string]any {
	l := LanguageOf(runtimeType)
	info := map[string]any{
		"name":           l.Name,
		"mimetype":       l.MIMEType,
		"file_extension": l.FileExtension,
		"pygments_lexer": l.Pygments,
	}
	if l.CodeMirror != "" {
		info["codemirror_mode"] = l.CodeMirror
	}
	if v := ImageVersion(image); v != "" && v[0] >= '0' && v[0] <= '9' {
		info["version"] = v
	}
	return info
}

// DisplayName is the kernel's name in front ends' menus, e.g.
// "Python 3.11 on Backend.AI (python:3.11-debian)".
func DisplayName(runtimeType, image string) string {
	name := LanguageOf(runtimeType).Pretty
	if v := ImageVersion(image); v != "" {
		name += " " + v
	}
	return name + " on Backend.AI (" + image + ")"
}

// Kernelspec is the kernel.json of one installed kernel.
type Kernelspec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

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
	Spec  Kernelspec
}

// kernelNameRE is what jupyter_client accepts as a kernel name.
var kernelNameRE = regexp.MustCompile(`[^a-z0-9._-]+`)

// KernelNames names one kernel per image: prefix plus the image's
// repository ("bai-python"), or plus the whole name where two images share
// a repository ("bai-python-3.11-debian"). The result maps image name to
// kernel name.
func KernelNames(prefix string, images []apitypes.ImageInfo) map[string]string {
	repo := func(name string) string {
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		return name[strings.LastIndexByte(name, '/')+1:]
	}
	count := map[string]int{}
	for _, im := range images {
		count[repo(im.Name)]++
	}
	out := map[string]string{}
	for _, im := range images {
		base := repo(im.Name)
		if count[base] > 1 {
			base = im.Name[strings.LastIndexByte(im.Name, '/')+1:]
		}
		n := strings.Trim(kernelNameRE.ReplaceAllString(strings.ToLower(prefix+base), "-"), "-")
		out[im.Name] = n
	}
	return out
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
	names := KernelNames(o.NamePrefix, selected)
	var out []Installed
	for _, im := range selected {
		spec := Kernelspec{
			Argv:        []string{o.Executable, "jupyter", "kernel", "--image", im.Name, "--connection-file", "{connection_file}"},
			DisplayName: DisplayName(im.RuntimeType, im.Name),
			Language:    LanguageOf(im.RuntimeType).Name,
			// Interrupts travel as interrupt_request on the control
			// channel: a SIGINT to this process could not reach the code,
			// which runs in a container.
			InterruptMode: "message",
			Env:           o.Env,
			Metadata:      map[string]any{"bai": map[string]any{"image": im.Name, "runtime_type": im.RuntimeType}},
		}
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
		im, ok := FindImage(images, w)
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

// FindImage finds an image by name, alias, or docker reference
// (bai/python:3.11-debian).
func FindImage(images []apitypes.ImageInfo, name string) (apitypes.ImageInfo, bool) {
	for _, im := range images {
		if im.Name == name || strings.HasSuffix(name, "/"+im.Name) {
			return im, true
		}
		for _, a := range im.Aliases {
			if a == name {
				return im, true
			}
		}
	}
	return apitypes.ImageInfo{}, false
}

// writeKernelspec writes dir/kernel.json through a temporary file, so a
// front end never reads half a file. With secrets in it, the directory and
// file are for their owner only.
func writeKernelspec(dir string, spec Kernelspec, secret bool) (string, error) {
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
