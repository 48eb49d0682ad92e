// Package resource parses and compares resource slots (cpu cores, memory
// bytes, accelerators) in the forms the Backend.AI API accepts.
package resource

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"baigo.dev/bai/common/errdefs"
)

// Slot names.
const (
	CPU        = "cpu"
	Mem        = "mem"
	CUDADevice = "cuda.device"
	CUDAShares = "cuda.shares"
)

// Slots maps a slot name to an amount: cpu in cores (fractions allowed), mem
// in bytes, accelerators in devices or shares.
type Slots map[string]float64

// ParseBytes parses a memory size: a plain number of bytes or a number with a
// binary suffix (k, m, g, t; optional trailing "b" or "i"/"ib"), e.g. "512m",
// "4g", "1.5GiB".
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size: %w", errdefs.ErrInvalidArgument)
	}
	t = strings.TrimSuffix(t, "ib")
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		case 't':
			mult, t = 1<<40, t[:n-1]
		case 'p':
			mult, t = 1<<50, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bad size %q (use bytes or a suffix such as 512m or 4g): %w", s, errdefs.ErrInvalidArgument)
	}
	// Past 2^62 bytes (4 EiB) the conversion would overflow into a
	// negative size, which must never reach a quota or capacity check.
	if v*mult > 1<<62 {
		return 0, fmt.Errorf("size %q is too large: %w", s, errdefs.ErrInvalidArgument)
	}
	return int64(v * mult), nil
}

// FormatBytes renders bytes with the largest exact binary suffix ("512m").
func FormatBytes(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseValue parses one slot's amount from a JSON value (number or string).
func ParseValue(name string, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("resource %q: negative or invalid amount: %w", name, errdefs.ErrInvalidArgument)
		}
		return x, nil
	case int:
		return ParseValue(name, float64(x))
	case int64:
		return ParseValue(name, float64(x))
	case string:
		if name == Mem {
			b, err := ParseBytes(x)
			return float64(b), err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("resource %q: bad amount %q: %w", name, x, errdefs.ErrInvalidArgument)
		}
		return ParseValue(name, f)
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("resource %q: amount must be a number or string: %w", name, errdefs.ErrInvalidArgument)
}

// Parse turns a JSON object of slot amounts into Slots.
func Parse(m map[string]any) (Slots, error) {
	out := Slots{}
	for k, v := range m {
		f, err := ParseValue(k, v)
		if err != nil {
			return nil, err
		}
		out[k] = f
	}
	return out, nil
}

// Add returns a+b slot by slot.
func (a Slots) Add(b Slots) Slots {
	out := Slots{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// Sub returns a-b slot by slot.
func (a Slots) Sub(b Slots) Slots {
	out := Slots{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] -= v
	}
	return out
}

// Fits reports whether want fits in free, and if not, the first slot (in name
// order) that does not.
func Fits(want, free Slots) (bool, string) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] > 0 && want[k] > free[k]+1e-9 {
			return false, k
		}
	}
	return true, ""
}

// ToJSON renders slots the way the Backend.AI API does: every amount as a
// string (mem in bytes).
func (a Slots) ToJSON() map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if v == math.Trunc(v) {
			out[k] = strconv.FormatInt(int64(v), 10)
		} else {
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return out
}
