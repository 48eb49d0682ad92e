package kernelcore

import (
	"regexp"
	"strings"

	"baigo.dev/bai/common/apitypes"
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

// RuntimeType returns an image's runtime type, which selects its
// Language and whether its tracebacks are Python's. A manager that did
// not report one leaves the image's repository name (GuessRuntime).
func RuntimeType(im apitypes.ImageInfo) string {
	if im.RuntimeType != "" {
		return im.RuntimeType
	}
	return GuessRuntime(im.Name)
}

// GuessRuntime guesses the runtime type of an image (name, alias or
// docker reference) from its repository name, the part before the tag
// ("python" for bai/python:3.11-debian): our images are named after
// their runtime. It serves until, or where, the manager does not say.
func GuessRuntime(image string) string {
	image = image[strings.LastIndexByte(image, '/')+1:]
	if i := strings.IndexByte(image, ':'); i >= 0 {
		image = image[:i]
	}
	return image
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

// KernelInfo is the content of a kernel_info_reply: implementation names
// the front door ("bai" for the ZeroMQ kernel, "bai-jupyter-gateway"),
// version its build, and the language is that of the runtime type.
func KernelInfo(implementation, version, runtimeType, image, banner string) map[string]any {
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       ProtocolVersion,
		"implementation":         implementation,
		"implementation_version": version,
		"language_info":          LanguageInfo(runtimeType, image),
		"banner":                 banner,
		"help_links":             []any{},
		"debugger":               false,
	}
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

// Kernelspec is a kernel.json: what `bai jupyter install` writes to disk
// and what the gateway serves under "spec" in GET /api/kernelspecs.
type Kernelspec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// NewKernelspec returns the kernelspec of an image's kernel that argv
// starts (empty for the gateway, whose kernels are no local processes).
// Interrupts travel as interrupt_request messages: a signal to a local
// process could not reach the code, which runs in a container.
func NewKernelspec(im apitypes.ImageInfo, argv []string, env map[string]string) Kernelspec {
	if argv == nil {
		argv = []string{} // jupyter_client wants a list, not null
	}
	rt := RuntimeType(im)
	return Kernelspec{
		Argv:          argv,
		DisplayName:   DisplayName(rt, im.Name),
		Language:      LanguageOf(rt).Name,
		InterruptMode: "message",
		Env:           env,
		Metadata:      map[string]any{"bai": map[string]any{"image": im.Name, "runtime_type": rt}},
	}
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
