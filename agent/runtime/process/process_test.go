package process_test

import (
	"io"
	"log/slog"
	"testing"

	"baigo.dev/bai/agent/runtime/process"
	"baigo.dev/bai/agent/runtime/runtimetest"
)

func TestConformance(t *testing.T) {
	rt := process.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = rt.Close(t.Context()) })
	runtimetest.Run(t, rt, runtimetest.Env{
		Image:   process.ImageRef,
		Sleeper: runtimetest.BuildSleeper(t),
	})
}
