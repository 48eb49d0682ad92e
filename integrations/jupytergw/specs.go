package jupytergw

import (
	"sort"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// KernelSpec is one entry of GET /api/kernelspecs, in jupyter_server's
// shape. Its spec has an empty argv: the kernel is not a local process
// but a Backend.AI session.
type KernelSpec struct {
	Name      string                `json:"name"`
	Spec      kernelcore.Kernelspec `json:"spec"`
	Resources map[string]string     `json:"resources"`

	image   string // the Backend.AI image a kernel of this spec runs
	runtime string // its runtime type, for language_info and tracebacks
}

// SpecList is the answer of GET /api/kernelspecs.
type SpecList struct {
	Default     string                 `json:"default"`
	Kernelspecs map[string]*KernelSpec `json:"kernelspecs"`
}

// specsFromImages makes one kernel spec per image, named as `bai jupyter
// install` names the kernels it installs (kernelcore.KernelNames), so a
// notebook names the same kernel whichever way it reaches bai. The
// default is bai-python when there is one, else the first by name.
func specsFromImages(images []apitypes.ImageInfo) SpecList {
	names := kernelcore.KernelNames("bai-", images)
	out := SpecList{Kernelspecs: map[string]*KernelSpec{}}
	for _, im := range images {
		name := names[im.Name]
		out.Kernelspecs[name] = &KernelSpec{
			Name:      name,
			Spec:      kernelcore.NewKernelspec(im, nil, nil),
			Resources: map[string]string{},
			image:     im.Name,
			runtime:   kernelcore.RuntimeType(im),
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
