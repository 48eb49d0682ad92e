package kernel

import (
	"testing"
	"time"
)

func TestCPUUtil(t *testing.T) {
	k := &Kernel{}
	t0 := time.Unix(1000, 0)
	first := map[string]any{"cpu_used": 5000.0}
	k.cpuUtil(first, t0)
	if _, ok := first["cpu_util"]; ok {
		t.Errorf("first sample has cpu_util: %v", first)
	}
	// 1.5 s of CPU in 2 s of wall time: 75% of one core.
	second := map[string]any{"cpu_used": 6500.0}
	k.cpuUtil(second, t0.Add(2*time.Second))
	if got := second["cpu_util"]; got != 75.0 {
		t.Errorf("cpu_util = %v, want 75", got)
	}
	// Two busy cores: 200%.
	third := map[string]any{"cpu_used": 10500.0}
	k.cpuUtil(third, t0.Add(4*time.Second))
	if got := third["cpu_util"]; got != 200.0 {
		t.Errorf("cpu_util = %v, want 200", got)
	}
	// A counter that went back (a restarted container) gives no figure.
	back := map[string]any{"cpu_used": 10.0}
	k.cpuUtil(back, t0.Add(6*time.Second))
	if _, ok := back["cpu_util"]; ok {
		t.Errorf("counter reset gave cpu_util %v", back["cpu_util"])
	}
	// A sample without cpu_used is left alone.
	none := map[string]any{"mem": 1.0}
	k.cpuUtil(none, t0.Add(8*time.Second))
	if len(none) != 1 {
		t.Errorf("sample without cpu_used changed: %v", none)
	}
}
