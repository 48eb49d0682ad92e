package e2e_test

import (
	"testing"
	"time"
)

// TestAgentLiveStats: a session that keeps a core busy shows up in the
// agent list's live_stats (the admin page's "Live usage") within a few
// heartbeats: cpu_util derives from two successive samples of the
// container's cgroup CPU counter.
func TestAgentLiveStats(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	// A daemon thread spins in the REPL process after the run returns.
	run(t, c, name, "import threading\ndef spin():\n    while True:\n        pass\nthreading.Thread(target=spin, daemon=True).start()\nprint('spinning')")
	sdk := sdkAs(t, st.shared.Creds.AccessKey, st.shared.Creds.SecretKey)
	ctx := testCtx(t, time.Minute)
	deadline := time.Now().Add(45 * time.Second)
	var last map[string]float64
	for time.Now().Before(deadline) {
		ags, err := sdk.Agents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range ags {
			if a.Sessions > 0 {
				last = a.LiveStats
			}
		}
		// Other tests run beside this one, so only a lower bound holds.
		if last["cpu_util"] >= 20 && last["mem"] > 0 && last["sampled"] >= 1 {
			t.Logf("live stats %v", last)
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("live_stats never showed the busy session: last %v", last)
}
