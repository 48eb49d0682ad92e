package gpu_test

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/errdefs"
)

func fakeDevices(t *testing.T, n int) []gpu.Device {
	t.Helper()
	f, err := gpu.ParseFake(strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := f.Devices()
	return devs
}

func indexes(devs []gpu.Device) []int {
	var out []int
	for _, d := range devs {
		out = append(out, d.Index)
	}
	return out
}

func TestAllocator(t *testing.T) {
	t.Parallel()
	a := gpu.NewAllocator(fakeDevices(t, 3))
	if a.Free() != 3 || len(a.Devices()) != 3 {
		t.Fatalf("free %d of %d", a.Free(), len(a.Devices()))
	}
	if got, err := a.Allocate("k0", 0); err != nil || got != nil {
		t.Fatalf("allocate 0 = %v, %v", got, err)
	}
	k1, err := a.Allocate("k1", 1)
	if err != nil || !slices.Equal(indexes(k1), []int{0}) {
		t.Fatalf("k1 = %+v, %v", k1, err)
	}
	k2, err := a.Allocate("k2", 2)
	if err != nil || !slices.Equal(indexes(k2), []int{1, 2}) {
		t.Fatalf("k2 = %+v, %v", k2, err)
	}
	if _, err := a.Allocate("k3", 1); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("allocate on a full agent: err = %v, want unavailable", err)
	} else {
		t.Logf("exhausted: %v", err)
	}
	if _, err := a.Allocate("k1", 1); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second allocate for k1: err = %v, want conflict", err)
	}
	a.Release("k1")
	a.Release("nobody")
	if a.Free() != 1 || a.Held("k1") != nil || !slices.Equal(indexes(a.Held("k2")), []int{1, 2}) {
		t.Fatalf("after release: free %d, k1 %v, k2 %v", a.Free(), a.Held("k1"), a.Held("k2"))
	}
	k3, err := a.Allocate("k3", 1)
	if err != nil || !slices.Equal(indexes(k3), []int{0}) {
		t.Fatalf("k3 = %+v, %v", k3, err)
	}
	if _, err := a.Allocate("k4", 1); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}

	if got, err := gpu.NewAllocator(nil).Allocate("k", 1); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("allocate without gpus = %v, %v", got, err)
	}
}

func TestAllocatorClaim(t *testing.T) {
	t.Parallel()
	a := gpu.NewAllocator(fakeDevices(t, 4))
	// What a restarted agent reads from its containers' labels.
	for kernel, label := range map[string]string{"k1": "0,2", "k2": "3", "k3": ""} {
		idx, err := gpu.ParseIndexes(label)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Claim(kernel, idx); err != nil {
			t.Fatalf("claim %s %q: %v", kernel, label, err)
		}
	}
	if a.Free() != 1 || !slices.Equal(indexes(a.Held("k1")), []int{0, 2}) || gpu.FormatIndexes(a.Held("k1")) != "0,2" {
		t.Fatalf("free %d, k1 %v", a.Free(), a.Held("k1"))
	}
	if got, err := a.Allocate("k4", 1); err != nil || !slices.Equal(indexes(got), []int{1}) {
		t.Fatalf("allocate after claims = %v, %v", got, err)
	}
	if _, err := a.Claim("k5", []int{3}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("claim of a held device: err = %v", err)
	}
	if _, err := a.Claim("k5", []int{9}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("claim of an unknown device: err = %v", err)
	}
	if a.Held("k5") != nil {
		t.Fatalf("a failed claim took %v", a.Held("k5"))
	}
	if _, err := a.Claim("k2", []int{3}); err != nil {
		t.Fatalf("claiming again what one holds: %v", err)
	}
}

func TestAllocatorConcurrent(t *testing.T) {
	t.Parallel()
	a := gpu.NewAllocator(fakeDevices(t, 8))
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]int{}
	ok := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := a.Allocate(string(rune('a'+i)), 1)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
				seen[got[0].Index]++
			}
		}()
	}
	wg.Wait()
	if ok != 8 || len(seen) != 8 {
		t.Fatalf("%d allocations over %d devices", ok, len(seen))
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want int
		ok   bool
	}{{0, 0, true}, {1, 1, true}, {4, 4, true}, {0.5, 0, false}, {1.25, 0, false}, {-1, 0, false}}
	for _, tt := range tests {
		got, err := gpu.Count(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Count(%v) = %d, %v", tt.in, got, err)
		}
		if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Count(%v): err = %v, want invalid argument", tt.in, err)
		}
	}
}

func TestIndexes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want []int
		ok   bool
	}{{"", nil, true}, {"0", []int{0}, true}, {"0,1", []int{0, 1}, true}, {" 2, 3 ", []int{2, 3}, true}, {"a", nil, false}, {"1,-1", nil, false}, {"1,,2", nil, false}} {
		got, err := gpu.ParseIndexes(tt.in)
		if tt.ok != (err == nil) || !slices.Equal(got, tt.want) {
			t.Errorf("ParseIndexes(%q) = %v, %v", tt.in, got, err)
		}
	}
}
