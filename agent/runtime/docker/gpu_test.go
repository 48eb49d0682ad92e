package docker_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/agent/runtime/docker"
)

// createRecorder stands in for the engine and keeps what Create sent.
type createRecorder struct {
	docker.Client // nil: only ContainerCreate is called
	cfg           *container.Config
	hc            *container.HostConfig
}

func (r *createRecorder) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	r.cfg, r.hc = cfg, hc
	return container.CreateResponse{ID: "c1"}, nil
}

func TestCreateGPUs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		gpus     []string
		env      map[string]string
		wantReq  bool
		wantNVVD string
	}{
		{"no gpus", nil, nil, false, "NVIDIA_VISIBLE_DEVICES=void"},
		{"no gpus, image or user says all", nil, map[string]string{"NVIDIA_VISIBLE_DEVICES": "all"}, false, "NVIDIA_VISIBLE_DEVICES=void"},
		{"two gpus", []string{"GPU-aaa", "GPU-bbb"}, map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-aaa,GPU-bbb"}, true, "NVIDIA_VISIBLE_DEVICES=GPU-aaa,GPU-bbb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &createRecorder{}
			rt := docker.New(rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if _, err := rt.Create(t.Context(), runtime.Spec{Name: "bai-gpu", Image: "bai/python:3.11-debian", Env: tt.env, GPUs: tt.gpus}); err != nil {
				t.Fatal(err)
			}
			reqs := rec.hc.Resources.DeviceRequests
			if !tt.wantReq {
				if len(reqs) != 0 {
					t.Fatalf("device requests = %+v", reqs)
				}
			} else if len(reqs) != 1 || reqs[0].Driver != "nvidia" || !slices.Equal(reqs[0].DeviceIDs, tt.gpus) ||
				len(reqs[0].Capabilities) != 1 || !slices.Equal(reqs[0].Capabilities[0], []string{"gpu"}) {
				t.Fatalf("device requests = %+v", reqs)
			}
			var nv []string
			for _, e := range rec.cfg.Env {
				if strings.HasPrefix(e, "NVIDIA_VISIBLE_DEVICES=") {
					nv = append(nv, e)
				}
			}
			if !slices.Equal(nv, []string{tt.wantNVVD}) {
				t.Fatalf("env %v", rec.cfg.Env)
			}
			if v := tt.env["CUDA_VISIBLE_DEVICES"]; v != "" && !slices.Contains(rec.cfg.Env, "CUDA_VISIBLE_DEVICES="+v) {
				t.Fatalf("env %v lacks CUDA_VISIBLE_DEVICES", rec.cfg.Env)
			}
		})
	}
}
