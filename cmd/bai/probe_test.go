package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
)

func runProbe(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := agentCmd(context.Background(), func() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"--probe"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestAgentProbe(t *testing.T) {
	t.Setenv("BAI_FAKE_GPUS", "")
	out, err := runProbe(t, "--fake-gpus", "2:NVIDIA H100 80GB HBM3:80GiB")
	if err != nil {
		t.Fatal(err)
	}
	want := "source: fake\n" +
		"INDEX  MODEL                  MEMORY  UUID\n" +
		"0      NVIDIA H100 80GB HBM3  80 GiB  GPU-fake-0\n" +
		"1      NVIDIA H100 80GB HBM3  80 GiB  GPU-fake-1\n"
	if out != want {
		t.Fatalf("probe printed\n%s\nwant\n%s", out, want)
	}

	t.Setenv("BAI_FAKE_GPUS", "1")
	if out, err := runProbe(t); err != nil || !strings.Contains(out, "0      Fake GPU  16 GiB  GPU-fake-0\n") {
		t.Fatalf("probe with BAI_FAKE_GPUS=1: %q, %v", out, err)
	}

	if _, err := runProbe(t, "--fake-gpus", "lots"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad spec: err = %v", err)
	}

	// Without fakes, NVML answers: on a host without a driver, no GPUs and why.
	t.Setenv("BAI_FAKE_GPUS", "")
	out, err = runProbe(t)
	if err != nil || !(strings.HasPrefix(out, "no GPUs: ") || strings.HasPrefix(out, "source: nvml\n")) {
		t.Fatalf("probe of this host: %q, %v", out, err)
	}
	t.Logf("this host: %s", out)
}
