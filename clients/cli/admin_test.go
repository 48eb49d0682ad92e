package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/internal/servertest"
)

// The admin commands against a real manager with one agent.
func TestAdminCommands(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	env := envOf(map[string]string{"BACKEND_ENDPOINT": s.URL, "BACKEND_ACCESS_KEY": s.Creds.AccessKey, "BACKEND_SECRET_KEY": s.Creds.SecretKey})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := bai(ctx, env, "", "admin", "agents")
	if r.code != 0 || !strings.Contains(r.stdout, "ALIVE") || !strings.Contains(r.stdout, "cpu=") {
		t.Errorf("agents: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "scaling-group", "default", "--selector", "dispersed", "--pending-timeout", "30")
	if r.code != 0 || !strings.Contains(r.stdout, "selector=dispersed") || !strings.Contains(r.stdout, "pending-timeout=30s") || !strings.Contains(r.stdout, "scheduler=fifo") {
		t.Errorf("scaling-group set: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "scaling-group", "default", "--scheduler", "random")
	if r.code == 0 || !strings.Contains(r.stderr, "fifo, lifo or drf") {
		t.Errorf("bad scheduler: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "policy", "small", "--total", "cpu=2,mem=1g", "--idle-timeout", "600")
	if r.code != 0 || !strings.Contains(r.stdout, "total=cpu=2 mem=1g") || !strings.Contains(r.stdout, "idle-timeout=600s") {
		t.Errorf("policy set: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "policy", "small", "--total", "cpu")
	if r.code == 0 || !strings.Contains(r.stderr, "SLOT=AMOUNT") {
		t.Errorf("bad --total: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "policies")
	if r.code != 0 || !strings.Contains(r.stdout, "small") || !strings.Contains(r.stdout, "default") {
		t.Errorf("policies: %+v", r)
	}
	r = bai(ctx, env, "", "admin", "keypair-policy", s.Creds.AccessKey, "nosuch")
	if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("unknown policy: %+v", r)
	}
	// A tenant's keypair is refused, with a message that says why.
	ak, sk := s.AddUser(t, "tenant@example.com")
	tenant := envOf(map[string]string{"BACKEND_ENDPOINT": s.URL, "BACKEND_ACCESS_KEY": ak, "BACKEND_SECRET_KEY": sk})
	r = bai(ctx, tenant, "", "admin", "agents")
	if r.code == 0 || !strings.Contains(r.stderr, "superadmin") {
		t.Errorf("tenant on admin: %+v", r)
	}
}
