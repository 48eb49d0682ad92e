package kernelcore_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

var testImages = []apitypes.ImageInfo{
	{Name: "python:3.11-debian", Aliases: []string{"python"}, RuntimeType: "python"},
	{Name: "c:gcc12-debian", Aliases: []string{"c"}, RuntimeType: "c"},
	{Name: "nodejs:18-debian", Aliases: []string{"node"}, RuntimeType: "nodejs"},
	{Name: "lab/exotic:1.0", RuntimeType: "exotic"},
}

func TestKernelNames(t *testing.T) {
	t.Parallel()
	got := kernelcore.KernelNames("bai-", testImages)
	want := map[string]string{"python:3.11-debian": "bai-python", "c:gcc12-debian": "bai-c", "nodejs:18-debian": "bai-nodejs", "lab/exotic:1.0": "bai-exotic"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	two := append([]apitypes.ImageInfo{{Name: "python:3.12-debian", RuntimeType: "python"}}, testImages[0])
	got = kernelcore.KernelNames("My_", two)
	want = map[string]string{"python:3.12-debian": "my_python-3.12-debian", "python:3.11-debian": "my_python-3.11-debian"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("names of two pythons %v, want %v", got, want)
	}
}

func TestLanguageInfo(t *testing.T) {
	t.Parallel()
	if got := kernelcore.DisplayName("python", "python:3.11-debian"); got != "Python 3.11 on Backend.AI (python:3.11-debian)" {
		t.Errorf("display name %q", got)
	}
	if got := kernelcore.DisplayName("c", "c:gcc12-debian"); got != "C gcc12 on Backend.AI (c:gcc12-debian)" {
		t.Errorf("display name %q", got)
	}
	li := kernelcore.LanguageInfo("python", "python:3.11-debian")
	if li["name"] != "python" || li["version"] != "3.11" || li["file_extension"] != ".py" || li["mimetype"] != "text/x-python" {
		t.Errorf("python language_info %v", li)
	}
	if li := kernelcore.LanguageInfo("c", "c:gcc12-debian"); li["version"] != nil || li["file_extension"] != ".c" {
		t.Errorf("c language_info %v (a compiler name is no language version)", li)
	}
	if li := kernelcore.LanguageInfo("exotic", "lab/exotic:1.0"); li["name"] != "exotic" || li["file_extension"] != ".txt" {
		t.Errorf("unknown runtime language_info %v", li)
	}
	info := kernelcore.KernelInfo("bai", "v1", "python", "python:3.11-debian", "hello")
	if info["protocol_version"] != kernelcore.ProtocolVersion || info["implementation"] != "bai" || info["banner"] != "hello" ||
		info["language_info"].(map[string]any)["name"] != "python" {
		t.Errorf("kernel_info %v", info)
	}
}

func TestRuntimeType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		im   apitypes.ImageInfo
		want string
	}{
		{apitypes.ImageInfo{Name: "python:3.11-debian", RuntimeType: "python"}, "python"},
		{apitypes.ImageInfo{Name: "weird:1"}, "weird"},
		{apitypes.ImageInfo{Name: "registry:5000/lab/nodejs:18-debian"}, "nodejs"},
		{apitypes.ImageInfo{Name: "bash"}, "bash"},
	}
	for _, tt := range tests {
		if got := kernelcore.RuntimeType(tt.im); got != tt.want {
			t.Errorf("RuntimeType(%+v) = %q, want %q", tt.im, got, tt.want)
		}
	}
}

func TestNewKernelspec(t *testing.T) {
	t.Parallel()
	spec := kernelcore.NewKernelspec(apitypes.ImageInfo{Name: "nodejs:18-debian"}, nil, nil)
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"argv":[],"display_name":"JavaScript (Node.js) 18 on Backend.AI (nodejs:18-debian)","language":"javascript",` +
		`"interrupt_mode":"message","metadata":{"bai":{"image":"nodejs:18-debian","runtime_type":"nodejs"}}}`
	if string(b) != want {
		t.Errorf("kernelspec\n%s\nwant\n%s", b, want)
	}
}

func TestFindImage(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"python": "python:3.11-debian", "c:gcc12-debian": "c:gcc12-debian",
		"bai/nodejs:18-debian": "nodejs:18-debian", "cobol": ""} {
		im, ok := kernelcore.FindImage(testImages, name)
		if im.Name != want || ok != (want != "") {
			t.Errorf("FindImage(%q) = %q %v, want %q", name, im.Name, ok, want)
		}
	}
}
