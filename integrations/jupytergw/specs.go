package jupytergw

import (
	"regexp"
	"sort"
	"strings"

	"baigo.dev/bai/common/apitypes"
)

// KernelSpec is one entry of GET /api/kernelspecs, in jupyter_server's
// shape.
type KernelSpec struct {
	Name      string            `json:"name"`
	Spec      SpecBody          `json:"spec"`
	Resources map[string]string `json:"resources"`

	image    string // the Backend.AI image a kernel of this spec runs
	langInfo map[string]any
}

// SpecBody is the kernel.json part of a kernel spec. Argv is empty: the
// kernel is not a local process but a Backend.AI session.
type SpecBody struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env"`
	Metadata      map[string]any    `json:"metadata"`
}

// SpecList is the answer of GET /api/kernelspecs.
type SpecList struct {
	Default     string                 `json:"default"`
	Kernelspecs map[string]*KernelSpec `json:"kernelspecs"`
}

// langFacts is what a Jupyter frontend wants to know about a language:
// the name it highlights by, a MIME type and a file extension.
type langFacts struct{ name, mime, ext string }

// languages maps image repositories (the first part of python:3.11-debian)
// to their language; an unknown repository is its own language name.
var languages = map[string]langFacts{
	"python":  {"python", "text/x-python", ".py"},
	"nodejs":  {"javascript", "application/javascript", ".js"},
	"c":       {"c", "text/x-csrc", ".c"},
	"cpp":     {"c++", "text/x-c++src", ".cpp"},
	"go":      {"go", "text/x-go", ".go"},
	"java":    {"java", "text/x-java", ".java"},
	"r":       {"R", "text/x-rsrc", ".r"},
	"ruby":    {"ruby", "text/x-ruby", ".rb"},
	"php":     {"php", "application/x-httpd-php", ".php"},
	"perl":    {"perl", "text/x-perl", ".pl"},
	"lua":     {"lua", "text/x-lua", ".lua"},
	"bash":    {"bash", "text/x-sh", ".sh"},
	"haskell": {"haskell", "text/x-haskell", ".hs"},
	"rust":    {"rust", "text/x-rustsrc", ".rs"},
	"octave":  {"octave", "text/x-octave", ".m"},
	"scheme":  {"scheme", "text/x-scheme", ".scm"},
}

var specNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// specsFromImages makes one kernel spec per image: "bai-<repository>"
// ("bai-python" for python:3.11-debian), or "bai-<whole name>" with unsafe
// characters replaced when two images share a repository. The default is
// bai-python when there is one, else the first by name.
func specsFromImages(images []apitypes.ImageInfo) SpecList {
	repoCount := map[string]int{}
	for _, im := range images {
		repo, _, _ := strings.Cut(im.Name, ":")
		repoCount[repo]++
	}
	out := SpecList{Kernelspecs: map[string]*KernelSpec{}}
	for _, im := range images {
		repo, tag, _ := strings.Cut(im.Name, ":")
		name := "bai-" + repo
		if repoCount[repo] > 1 {
			name = "bai-" + strings.Trim(specNameUnsafe.ReplaceAllString(im.Name, "-"), "-")
		}
		facts, ok := languages[repo]
		if !ok {
			facts = langFacts{name: repo, mime: "text/plain", ext: ".txt"}
		}
		version, _, _ := strings.Cut(tag, "-")
		out.Kernelspecs[name] = &KernelSpec{
			Name: name,
			Spec: SpecBody{
				Argv:          []string{},
				DisplayName:   im.Name + " (bai)",
				Language:      facts.name,
				InterruptMode: "message",
				Env:           map[string]string{},
				Metadata:      map[string]any{"bai": map[string]any{"image": im.Name, "aliases": im.Aliases}},
			},
			Resources: map[string]string{},
			image:     im.Name,
			langInfo: map[string]any{
				"name": facts.name, "version": version, "mimetype": facts.mime, "file_extension": facts.ext,
			},
		}
	}
	if _, ok := out.Kernelspecs["bai-python"]; ok {
		out.Default = "bai-python"
	} else {
		names := make([]string, 0, len(out.Kernelspecs))
		for n := range out.Kernelspecs {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 0 {
			out.Default = names[0]
		}
	}
	return out
}
