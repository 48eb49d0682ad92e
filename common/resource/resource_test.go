package resource_test

import (
	"testing"

	"baigo.dev/bai/common/resource"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "4g": 4 << 30, "1.5GiB": 3 << 29, "1024": 1024, "2K": 2048, "1t": 1 << 40} {
		got, err := resource.ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1m", "1q"} {
		if _, err := resource.ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	if s := resource.FormatBytes(512 << 20); s != "512m" {
		t.Errorf("FormatBytes = %s", s)
	}
}

func TestFits(t *testing.T) {
	free := resource.Slots{"cpu": 2, "mem": 1 << 30}
	if ok, _ := resource.Fits(resource.Slots{"cpu": 2, "mem": 1 << 30}, free); !ok {
		t.Error("exact fit refused")
	}
	if ok, slot := resource.Fits(resource.Slots{"cpu": 1, "cuda.device": 1}, free); ok || slot != "cuda.device" {
		t.Errorf("missing slot: ok=%v slot=%s", ok, slot)
	}
}
