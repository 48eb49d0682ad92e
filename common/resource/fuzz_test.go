package resource_test

import (
	"math"
	"testing"

	"baigo.dev/bai/common/resource"
)

// FuzzParseValue: a slot amount from a request body (a JSON number or a
// string such as "512m") parses into a finite, non-negative number or is
// refused; it never panics.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"1", "0.5", "512m", "8g", "1.5G", "-1", "1e400", "NaN", "inf", "", "k", "9999999999999999999t"} {
		f.Add("mem", s)
		f.Add("cpu", s)
	}
	f.Add("cuda.device", "2")
	f.Fuzz(func(t *testing.T, slot, s string) {
		v, err := resource.ParseValue(slot, s)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("ParseValue(%q, %q) = %v", slot, s, v)
		}
	})
}

// FuzzParseBytes: a byte size parses into a non-negative count or is
// refused.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"512m", "1g", "1.5G", "100", "0", "-5m", "1e30g", "g", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := resource.ParseBytes(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}
