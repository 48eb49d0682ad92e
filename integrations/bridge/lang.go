package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// editorLangs maps editors' language ids that are not image aliases (VSCode's
// and Atom's grammar names) to runtime types.
var editorLangs = map[string]string{
	"javascript":  "nodejs",
	"shellscript": "bash",
	"shell":       "bash",
	"sh":          "bash",
	"c++":         "cpp",
	"golang":      "go",
	"matlab":      "octave",
	"racket":      "scheme",
}

// extLangs maps file extensions to runtime types.
var extLangs = map[string]string{
	".py": "python", ".c": "c", ".h": "c",
	".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
	".go": "go", ".hs": "haskell", ".java": "java", ".lua": "lua",
	".js": "nodejs", ".mjs": "nodejs", ".cjs": "nodejs",
	".m": "octave", ".pl": "perl", ".pm": "perl", ".php": "php",
	".r": "r", ".rb": "ruby", ".rs": "rust", ".scm": "scheme", ".ss": "scheme",
	".sh": "bash", ".bash": "bash",
}

// resolve picks the image of a run request from the manager's list,
// fetching it once and again when nothing matches (images may be added).
func (b *Bridge) resolve(ctx context.Context, req Request) (apitypes.ImageInfo, error) {
	b.mu.Lock()
	images := b.images
	b.mu.Unlock()
	if images != nil {
		if img, err := Resolve(images, req.Lang, req.Image, req.File); err == nil {
			return img, nil
		}
	}
	images, err := b.api.Images(ctx)
	if err != nil {
		return apitypes.ImageInfo{}, fmt.Errorf("list images: %w", err)
	}
	b.mu.Lock()
	b.images = images
	b.mu.Unlock()
	return Resolve(images, req.Lang, req.Image, req.File)
}

// Resolve picks the image for a run: image by name or alias; else lang as
// an image name, alias, runtime type or editor language id; else (or when
// lang names nothing known) the runtime type of file's extension. Among several matches the first by
// name wins, so the choice does not change from run to run.
func Resolve(images []apitypes.ImageInfo, lang, image, file string) (apitypes.ImageInfo, error) {
	sorted := slices.Clone(images)
	slices.SortFunc(sorted, func(a, b apitypes.ImageInfo) int { return strings.Compare(a.Name, b.Name) })
	find := func(key string, byRuntime bool) (apitypes.ImageInfo, bool) {
		for _, img := range sorted {
			if strings.EqualFold(img.Name, key) || slices.ContainsFunc(img.Aliases, func(a string) bool { return strings.EqualFold(a, key) }) {
				return img, true
			}
		}
		if byRuntime {
			for _, img := range sorted {
				if strings.EqualFold(img.RuntimeType, key) {
					return img, true
				}
			}
		}
		return apitypes.ImageInfo{}, false
	}
	byExt := func() (apitypes.ImageInfo, bool) {
		if rt, ok := extLangs[strings.ToLower(filepath.Ext(file))]; ok && file != "" {
			return find(rt, true)
		}
		return apitypes.ImageInfo{}, false
	}
	var what string
	switch {
	case image != "":
		if img, ok := find(image, false); ok {
			return img, nil
		}
		what = fmt.Sprintf("image %q", image)
	case lang != "":
		key := strings.ToLower(strings.TrimSpace(lang))
		if img, ok := find(key, true); ok {
			return img, nil
		}
		if rt, ok := editorLangs[key]; ok {
			if img, ok := find(rt, true); ok {
				return img, nil
			}
		}
		// An editor may call a language by a name of its own: the file's
		// extension still tells.
		if img, ok := byExt(); ok {
			return img, nil
		}
		what = fmt.Sprintf("language %q", lang)
	case file != "":
		if img, ok := byExt(); ok {
			return img, nil
		}
		what = fmt.Sprintf("files like %q", filepath.Base(file))
	default:
		return apitypes.ImageInfo{}, fmt.Errorf("run: say which language: give lang, image, or a file with a known extension: %w", errdefs.ErrInvalidArgument)
	}
	var have []string
	for _, img := range sorted {
		if !slices.Contains(have, img.RuntimeType) {
			have = append(have, img.RuntimeType)
		}
	}
	return apitypes.ImageInfo{}, fmt.Errorf("no image for %s; the manager has: %s: %w", what, strings.Join(have, ", "), errdefs.ErrInvalidArgument)
}
