package gpu

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"baigo.dev/bai/common/errdefs"
)

// Allocator hands whole devices to kernels and takes them back. It is safe
// for concurrent use. The manager schedules cuda.device slots so that it
// never asks for more than is free; the allocator still refuses to
// over-commit, for a manager that is wrong or another agent's restart race.
type Allocator struct {
	devs []Device // in index order

	mu    sync.Mutex
	owner map[int]string // device index → kernel id
}

// NewAllocator tracks devs, all free.
func NewAllocator(devs []Device) *Allocator {
	d := slices.Clone(devs)
	slices.SortFunc(d, func(a, b Device) int { return a.Index - b.Index })
	return &Allocator{devs: d, owner: map[int]string{}}
}

// Devices returns all the devices tracked, in index order.
func (a *Allocator) Devices() []Device { return slices.Clone(a.devs) }

// Free returns how many devices nobody holds.
func (a *Allocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.devs) - len(a.owner)
}

// Count converts a cuda.device amount to a whole number of devices:
// fractions (shares of a device) are not supported.
func Count(amount float64) (int, error) {
	if amount < 0 || math.IsNaN(amount) || math.IsInf(amount, 0) {
		return 0, fmt.Errorf("cuda.device %v: must be a whole number of devices: %w", amount, errdefs.ErrInvalidArgument)
	}
	if amount != math.Trunc(amount) {
		return 0, fmt.Errorf("cuda.device %v: fractional GPUs are not supported, ask for whole devices: %w", amount, errdefs.ErrInvalidArgument)
	}
	return int(amount), nil
}

// Allocate gives owner n free devices (the lowest indexes first). It fails
// with errdefs.ErrUnavailable when fewer than n are free, and with
// errdefs.ErrConflict when owner already holds devices.
func (a *Allocator) Allocate(owner string, n int) ([]Device, error) {
	if n <= 0 {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range a.owner {
		if o == owner {
			return nil, fmt.Errorf("kernel %s already holds cuda devices: %w", owner, errdefs.ErrConflict)
		}
	}
	if free := len(a.devs) - len(a.owner); free < n {
		return nil, fmt.Errorf("kernel %s wants %d cuda devices but only %d of this agent's %d are free: %w",
			owner, n, free, len(a.devs), errdefs.ErrUnavailable)
	}
	var got []Device
	for _, d := range a.devs {
		if _, taken := a.owner[d.Index]; !taken {
			a.owner[d.Index] = owner
			got = append(got, d)
			if len(got) == n {
				break
			}
		}
	}
	return got, nil
}

// Claim marks the devices with the given indexes as owner's: how a
// restarted agent re-learns what its adopted kernels hold. It fails, taking
// nothing, when an index is unknown or held by another kernel.
func (a *Allocator) Claim(owner string, indexes []int) ([]Device, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []Device
	for _, i := range indexes {
		j := slices.IndexFunc(a.devs, func(d Device) bool { return d.Index == i })
		if j < 0 {
			return nil, fmt.Errorf("kernel %s holds cuda device %d, which this agent does not have: %w", owner, i, errdefs.ErrNotFound)
		}
		if o, taken := a.owner[i]; taken && o != owner {
			return nil, fmt.Errorf("kernel %s holds cuda device %d, which kernel %s holds too: %w", owner, i, o, errdefs.ErrConflict)
		}
		got = append(got, a.devs[j])
	}
	for _, d := range got {
		a.owner[d.Index] = owner
	}
	return got, nil
}

// Release frees the devices owner holds, if any.
func (a *Allocator) Release(owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, o := range a.owner {
		if o == owner {
			delete(a.owner, i)
		}
	}
}

// Held returns the devices owner holds, in index order.
func (a *Allocator) Held(owner string) []Device {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Device
	for _, d := range a.devs {
		if a.owner[d.Index] == owner {
			out = append(out, d)
		}
	}
	return out
}

// FormatIndexes renders the devices' indexes as the value of the
// types.LabelCUDADevices container label, e.g. "0,1".
func FormatIndexes(devs []Device) string {
	s := make([]string, len(devs))
	for i, d := range devs {
		s[i] = strconv.Itoa(d.Index)
	}
	return strings.Join(s, ",")
}

// ParseIndexes parses a types.LabelCUDADevices label value; "" is none.
func ParseIndexes(v string) ([]int, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 {
			return nil, fmt.Errorf("cuda device list %q: %w", v, errdefs.ErrInvalidArgument)
		}
		out = append(out, i)
	}
	return out, nil
}

// UUIDs returns the devices' UUIDs.
func UUIDs(devs []Device) []string {
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d.UUID
	}
	return out
}
