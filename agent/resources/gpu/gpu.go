// Package gpu finds the accelerators of the agent's host and hands them to
// kernels one whole device at a time, so the manager can schedule cuda.device
// slots and no two kernels ever share a device.
//
// Devices come from a Source: NVML (the NVIDIA driver's management library,
// loaded at run time; absent on hosts without a driver) or a fake source
// built from a spec string, which lets the scheduler, agent and end-to-end
// tests cover GPU placement on machines without GPUs.
//
// An Allocator tracks which device indexes each kernel holds. Its state
// lives in memory; a restarted agent re-learns it from the container label
// types.LabelCUDADevices of the kernels it adopts.
package gpu

import (
	"fmt"
	"strconv"
	"strings"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
)

// Source names, as reported in Device.Source.
const (
	SourceNVML = "nvml"
	SourceFake = "fake"
)

// Device is one accelerator of the host.
type Device struct {
	Index       int    `json:"index"`       // host index, as nvidia-smi numbers it
	UUID        string `json:"uuid"`        // e.g. GPU-8f0c...; GPU-fake-0 for fake devices
	Model       string `json:"model"`       // e.g. NVIDIA H100 80GB HBM3
	MemoryBytes int64  `json:"memoryBytes"` // device memory
	Source      string `json:"source"`      // SourceNVML or SourceFake
}

// Fake reports whether the device exists only on paper (a fake source).
func (d Device) Fake() bool { return d.Source == SourceFake }

// Proto converts devices to their manager⇄agent protocol form.
func Proto(devs []Device) []aproto.Device {
	if len(devs) == 0 {
		return nil
	}
	out := make([]aproto.Device, len(devs))
	for i, d := range devs {
		out[i] = aproto.Device{Index: d.Index, UUID: d.UUID, Model: d.Model, MemoryBytes: d.MemoryBytes, Source: d.Source}
	}
	return out
}

// Source lists the accelerators of the host.
type Source interface {
	// Name is the source's name, e.g. "nvml".
	Name() string
	// Devices returns the devices in index order, or an error that says
	// why none can be listed (no driver, built without cgo, ...).
	Devices() ([]Device, error)
}

// Fake defaults, used for the parts a spec leaves out.
const (
	DefaultFakeModel  = "Fake GPU"
	DefaultFakeMemory = 16 << 30
)

// FakeSource is a Source of made-up devices with deterministic UUIDs
// (GPU-fake-0, GPU-fake-1, ...).
type FakeSource struct {
	Count       int
	Model       string
	MemoryBytes int64
}

// ParseFake parses a fake spec: "COUNT[:MODEL[:MEMORY]]", e.g. "2" or
// "2:NVIDIA H100 80GB HBM3:80GiB". MEMORY takes the forms of
// resource.ParseBytes. The model may not contain ':'.
func ParseFake(spec string) (FakeSource, error) {
	parts := strings.Split(strings.TrimSpace(spec), ":")
	if len(parts) > 3 {
		return FakeSource{}, fmt.Errorf("fake gpu spec %q: want COUNT[:MODEL[:MEMORY]]: %w", spec, errdefs.ErrInvalidArgument)
	}
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n < 0 || n > 1024 {
		return FakeSource{}, fmt.Errorf("fake gpu spec %q: count must be a whole number from 0 to 1024: %w", spec, errdefs.ErrInvalidArgument)
	}
	f := FakeSource{Count: n, Model: DefaultFakeModel, MemoryBytes: DefaultFakeMemory}
	if len(parts) > 1 && strings.TrimSpace(parts[1]) != "" {
		f.Model = strings.TrimSpace(parts[1])
	}
	if len(parts) > 2 && strings.TrimSpace(parts[2]) != "" {
		m, err := resource.ParseBytes(parts[2])
		if err != nil {
			return FakeSource{}, fmt.Errorf("fake gpu spec %q: memory: %w", spec, err)
		}
		f.MemoryBytes = m
	}
	return f, nil
}

// Name returns SourceFake.
func (f FakeSource) Name() string { return SourceFake }

// Devices returns Count fake devices.
func (f FakeSource) Devices() ([]Device, error) {
	out := make([]Device, f.Count)
	for i := range out {
		out[i] = Device{Index: i, UUID: fmt.Sprintf("GPU-fake-%d", i), Model: f.Model, MemoryBytes: f.MemoryBytes, Source: SourceFake}
	}
	return out, nil
}

// Discover lists the host's devices: from a fake source when fakeSpec is
// set, else from NVML. It never fails: when no devices can be listed it
// returns none and the reason (e.g. "NVML library libnvidia-ml.so.1 not
// found: no NVIDIA driver on this host"). source names where the devices
// came from (or would have).
func Discover(fakeSpec string) (devs []Device, source string, reason string) {
	var src Source
	if strings.TrimSpace(fakeSpec) != "" {
		f, err := ParseFake(fakeSpec)
		if err != nil {
			return nil, SourceFake, err.Error()
		}
		src = f
	} else {
		src = NVML{}
	}
	devs, err := src.Devices()
	if err != nil {
		return nil, src.Name(), err.Error()
	}
	if len(devs) == 0 {
		return nil, src.Name(), "the " + src.Name() + " source lists no devices"
	}
	return devs, src.Name(), ""
}
