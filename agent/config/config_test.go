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
	good := config.Config{DataDir: "/d", ClusterSecret: "s", ManagerURL: "http://m/", RunnerPath: runner}.WithDefaults()
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
