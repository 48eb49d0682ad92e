package gpu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/errdefs"
)

func TestParseFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    gpu.FakeSource
		wantErr bool
	}{
		{"2", gpu.FakeSource{Count: 2, Model: gpu.DefaultFakeModel, MemoryBytes: gpu.DefaultFakeMemory}, false},
		{" 1 ", gpu.FakeSource{Count: 1, Model: gpu.DefaultFakeModel, MemoryBytes: gpu.DefaultFakeMemory}, false},
		{"0", gpu.FakeSource{Count: 0, Model: gpu.DefaultFakeModel, MemoryBytes: gpu.DefaultFakeMemory}, false},
		{"2:NVIDIA H100 80GB HBM3:80GiB", gpu.FakeSource{Count: 2, Model: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30}, false},
		{"4:Tesla T4", gpu.FakeSource{Count: 4, Model: "Tesla T4", MemoryBytes: gpu.DefaultFakeMemory}, false},
		{"1::512m", gpu.FakeSource{Count: 1, Model: gpu.DefaultFakeModel, MemoryBytes: 512 << 20}, false},
		{"", gpu.FakeSource{}, true},
		{"two", gpu.FakeSource{}, true},
		{"-1", gpu.FakeSource{}, true},
		{"1.5", gpu.FakeSource{}, true},
		{"2:m:lots", gpu.FakeSource{}, true},
		{"2:a:1g:extra", gpu.FakeSource{}, true},
	}
	for _, tt := range tests {
		got, err := gpu.ParseFake(tt.spec)
		if tt.wantErr {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("ParseFake(%q) = %+v, %v; want invalid argument", tt.spec, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseFake(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

func TestFakeDevices(t *testing.T) {
	t.Parallel()
	devs, source, reason := gpu.Discover("2:NVIDIA H100 80GB HBM3:80GiB")
	want := []gpu.Device{
		{Index: 0, UUID: "GPU-fake-0", Model: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30, Source: gpu.SourceFake},
		{Index: 1, UUID: "GPU-fake-1", Model: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30, Source: gpu.SourceFake},
	}
	if !slices.Equal(devs, want) || source != gpu.SourceFake || reason != "" {
		t.Fatalf("Discover = %+v, %q, %q", devs, source, reason)
	}
	if !devs[0].Fake() {
		t.Error("fake device does not say so")
	}
	p := gpu.Proto(devs)
	if len(p) != 2 || p[1].UUID != "GPU-fake-1" || p[1].Index != 1 || p[1].MemoryBytes != 80<<30 || p[1].Source != "fake" {
		t.Errorf("Proto = %+v", p)
	}
	if gpu.Proto(nil) != nil {
		t.Error("Proto(nil) is not nil")
	}

	for _, spec := range []string{"0", "bogus"} {
		devs, _, reason := gpu.Discover(spec)
		if len(devs) != 0 || reason == "" {
			t.Errorf("Discover(%q) = %+v, reason %q", spec, devs, reason)
		}
	}
}

// TestNVMLMissing loads a library that is not there, which is what every
// host without an NVIDIA driver looks like.
func TestNVMLMissing(t *testing.T) {
	t.Parallel()
	src := gpu.NVML{Library: "/nonexistent/libnvidia-ml.so.1"}
	devs, err := src.Devices()
	if err == nil || len(devs) != 0 {
		t.Fatalf("Devices = %+v, %v; want an error", devs, err)
	}
	if !strings.Contains(err.Error(), "NVML") && !strings.Contains(err.Error(), "cgo") {
		t.Errorf("error %q does not say why", err)
	}
	t.Logf("reason: %v", err)
}

// TestDiscoverHost asks NVML about this host: without a driver it finds no
// devices and says why; with one, every device is complete.
func TestDiscoverHost(t *testing.T) {
	t.Parallel()
	devs, source, reason := gpu.Discover("")
	if source != gpu.SourceNVML {
		t.Errorf("source = %q", source)
	}
	if len(devs) == 0 {
		if reason == "" {
			t.Fatal("no devices and no reason")
		}
		t.Logf("no GPUs: %s", reason)
		return
	}
	if reason != "" {
		t.Errorf("devices and a reason %q", reason)
	}
	for i, d := range devs {
		if d.Index != i || !strings.HasPrefix(d.UUID, "GPU-") && !strings.HasPrefix(d.UUID, "MIG-") || d.Model == "" || d.Source != gpu.SourceNVML {
			t.Errorf("device %d = %+v", i, d)
		}
		t.Logf("gpu %d: %s, %d bytes, %s", d.Index, d.Model, d.MemoryBytes, d.UUID)
	}
}
