//go:build !cgo

package gpu

import (
	"errors"
)

// DefaultNVMLLibrary is the NVML library the driver installs.
const DefaultNVMLLibrary = "libnvidia-ml.so.1"

// NVML is the Source of NVIDIA GPUs. This binary was built without cgo,
// which NVML needs to load the driver's library, so it never finds any.
type NVML struct {
	// Library is the library to load; DefaultNVMLLibrary when empty.
	Library string
}

// Name returns SourceNVML.
func (n NVML) Name() string { return SourceNVML }

// Devices always fails: NVML needs cgo.
func (n NVML) Devices() ([]Device, error) {
	return nil, errors.New("built without cgo; NVML unavailable")
}
