//go:build cgo

package gpu

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultNVMLLibrary is the NVML library the driver installs.
const DefaultNVMLLibrary = "libnvidia-ml.so.1"

// NVML is the Source of NVIDIA GPUs. It loads the driver's NVML library at
// run time (dlopen through cgo), so a binary built with it runs on hosts
// without a driver too; there Devices says why it found nothing.
type NVML struct {
	// Library is the library to load; DefaultNVMLLibrary when empty.
	Library string
}

// Name returns SourceNVML.
func (n NVML) Name() string { return SourceNVML }

// Devices initialises NVML, lists the devices and shuts NVML down again.
func (n NVML) Devices() (devs []Device, err error) {
	path := n.Library
	if path == "" {
		path = DefaultNVMLLibrary
	}
	// A broken driver installation must not take the agent down.
	defer func() {
		if r := recover(); r != nil {
			devs, err = nil, fmt.Errorf("NVML: %v", r)
		}
	}()
	lib := nvml.New(nvml.WithLibraryPath(path))
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return nil, fmt.Errorf("NVML library %s not found: no NVIDIA driver on this host", path)
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return nil, errors.New("NVML: the NVIDIA driver is not loaded")
	default:
		return nil, fmt.Errorf("NVML init: %s", ret.Error())
	}
	defer lib.Shutdown()
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML device count: %s", ret.Error())
	}
	for i := 0; i < count; i++ {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML device %d: %s", i, ret.Error())
		}
		uuid, ret := h.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML device %d uuid: %s", i, ret.Error())
		}
		d := Device{Index: i, UUID: uuid, Source: SourceNVML}
		if name, ret := h.GetName(); ret == nvml.SUCCESS {
			d.Model = name
		}
		// Some devices (unified memory) do not report it; 0 then.
		if mem, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			d.MemoryBytes = int64(mem.Total)
		}
		devs = append(devs, d)
	}
	return devs, nil
}
