package docker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"baigo.dev/bai/agent/runtime/docker"
	"baigo.dev/bai/agent/runtime/runtimetest"
)

// testImage is the kernel image the other tests use too.
const testImage = "bai/python:3.11-debian"

func TestConformance(t *testing.T) {
	cli, err := docker.Connect(context.Background())
	if err != nil {
		t.Skipf("docker engine unreachable, skipping the docker runtime tests: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	if _, err := cli.ImageInspect(context.Background(), testImage); err != nil {
		t.Skipf("image %s is missing (build it with agent/images/build.sh): %v", testImage, err)
	}
	rt := docker.New(cli, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runtimetest.Run(t, rt, runtimetest.Env{
		Image:    testImage,
		Sleeper:  runtimetest.BuildSleeper(t),
		UID:      1000,
		GID:      1000,
		NetStats: true,
	})
}
