package kernel

import "testing"

func TestAddJailEnv(t *testing.T) {
	env := map[string]string{"MY_VAR": "1", "OTHER": "2", "LD_PRELOAD": "/opt/bai/lib/libbaihook.so"}
	addJailEnv(env, "enforce", "gpu-heavy", map[string]string{"OTHER": "2", "MY_VAR": "1", "BAI_DROPPED": "x"})
	if env["BAI_JAIL_MODE"] != "enforce" || env["BAI_JAIL_POLICY"] != "gpu-heavy" || env["BAI_JAIL_KEEP_ENV"] != "MY_VAR,OTHER" {
		t.Fatalf("env = %v", env)
	}
	off := map[string]string{}
	addJailEnv(off, "off", "p", map[string]string{"A": "b"})
	if len(off) != 0 {
		t.Fatalf("jail off still sets %v", off)
	}
}
