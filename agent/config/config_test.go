package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"baigo.dev/bai/agent/config"
	"baigo.dev/bai/common/errdefs"
)

func TestLoadOrCreateID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := config.LoadOrCreateID(dir)
	if err != nil || id == "" {
		t.Fatalf("first: %q, %v", id, err)
	}
	again, err := config.LoadOrCreateID(dir)
	if err != nil || again != id {
		t.Fatalf("second: %q, %v (want %q)", again, err, id)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent-id"), []byte("../bad id"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadOrCreateID(dir); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("malformed id: err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	runner := filepath.Join(t.TempDir(), "runner")
	if err := os.WriteFile(runner, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib := t.TempDir()
	if err := os.WriteFile(filepath.Join(lib, config.JailBinary), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := config.Config{DataDir: "/d", ClusterSecret: "s", ManagerURL: "http://m/", RunnerPath: runner, KernelLibDir: lib}.WithDefaults()
	if good.JailMode != config.JailEnforce {
		t.Fatalf("jail mode default = %q", good.JailMode)
	}
	if c := (config.Config{Runtime: config.RuntimeProcess}).WithDefaults(); c.JailMode != config.JailOff {
		t.Fatalf("jail mode default with the process runtime = %q", c.JailMode)
	}
	if good.ScratchSize != 10<<30 || good.SessionNetwork != "bai-sessions" || good.SessionBridge != "bai-br0" {
		t.Fatalf("scratch and network defaults = %d %q %q", good.ScratchSize, good.SessionNetwork, good.SessionBridge)
	}
	if c := (config.Config{ScratchSize: -5}).WithDefaults(); c.ScratchSize != config.NoScratchCap {
		t.Fatalf("negative scratch size became %d", c.ScratchSize)
	}
	if good.Runtime != "docker" || good.HeartbeatInterval <= 0 || good.ContainerUID != 1000 || good.PidsLimit != 512 || good.ManagerURL != "http://m" {
		t.Fatalf("defaults = %+v", good)
	}
	tests := []struct {
		name   string
		mutate func(*config.Config)
		ok     bool
	}{
		{"good", func(*config.Config) {}, true},
		{"no secret", func(c *config.Config) { c.ClusterSecret = "" }, false},
		{"no data dir", func(c *config.Config) { c.DataDir = "" }, false},
		{"no manager", func(c *config.Config) { c.ManagerURL = "" }, false},
		{"missing runner", func(c *config.Config) { c.RunnerPath = "/nonexistent" }, false},
		{"bad runtime", func(c *config.Config) { c.Runtime = "podman" }, false},
		{"bad id", func(c *config.Config) { c.ID = "a/b" }, false},
		{"fake gpus", func(c *config.Config) { c.FakeGPUs = "2:NVIDIA H100 80GB HBM3:80GiB" }, true},
		{"bad fake gpus", func(c *config.Config) { c.FakeGPUs = "two" }, false},
		{"scratch uncapped", func(c *config.Config) { c.ScratchSize = config.NoScratchCap }, true},
		{"scratch 64 MiB", func(c *config.Config) { c.ScratchSize = 64 << 20 }, true},
		{"scratch too small", func(c *config.Config) { c.ScratchSize = 1 << 20 }, false},
		{"bridge name too long", func(c *config.Config) { c.SessionBridge = "bai-bridge-0123456" }, false},
		{"bad network name", func(c *config.Config) { c.SessionNetwork = "a b" }, false},
		{"jail watch", func(c *config.Config) { c.JailMode = config.JailWatch }, true},
		{"jail off without a jail", func(c *config.Config) { c.JailMode = config.JailOff; c.KernelLibDir = "" }, true},
		{"jail without a jail", func(c *config.Config) { c.KernelLibDir = t.TempDir() }, false},
		{"jail without a library dir", func(c *config.Config) { c.KernelLibDir = "" }, false},
		{"bad jail mode", func(c *config.Config) { c.JailMode = "strict" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestParseScratchSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10GiB", 10 << 30, true},
		{"64MiB", 64 << 20, true},
		{"512m", 512 << 20, true},
		{"1.5g", 3 << 29, true},
		{"0", config.NoScratchCap, true},
		{"0GiB", config.NoScratchCap, true},
		{"1m", 0, false},
		{"-1g", 0, false},
		{"lots", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := config.ParseScratchSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
			t.Errorf("ParseScratchSize(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
