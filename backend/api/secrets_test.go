package api_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/sign"
	"baigo.dev/bai/internal/servertest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLogged: whatever the requests (signed right, signed with
// a wrong secret, from an unknown access key, with the secret itself
// where the signature goes, past the rate limit, creating, running and
// destroying sessions, an agent call with a wrong cluster secret), the
// log of the manager and its agent, at debug level, holds no secret key,
// no secret a client signed with, and not the cluster secret.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	s := servertest.New(t, servertest.Options{Agent: true, LogOutput: &logged})
	ak, sk := s.Creds.AccessKey, s.Creds.SecretKey
	userAK, userSK := s.AddUser(t, "limited@example.com")
	if err := s.Store.KeyPair.UpdateOneID(userAK).SetRateLimit(3).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	const wrongSecret = "WrongSecretWrongSecretWrongSecretWrong40"

	steps := []struct {
		name   string
		do     func() servertest.Response
		status int
	}{
		{"signed", func() servertest.Response { return s.Do("GET", "/manager/status", nil, nil) }, 200},
		{"wrong secret", func() servertest.Response { return s.DoAs(ak, wrongSecret, "GET", "/session", nil, nil) }, 401},
		{"unknown access key", func() servertest.Response { return s.DoAs("AKIANOSUCHKEY0000000", sk, "GET", "/session", nil, nil) }, 401},
		{"secret as the signature", func() servertest.Response {
			return s.Do("GET", "/session", nil, map[string]string{"Authorization": sign.Authorization(ak, sk)})
		}, 401},
		{"malformed authorization with the secret", func() servertest.Response {
			return s.Do("GET", "/session", nil, map[string]string{"Authorization": "BackendAI " + ak + ":" + sk})
		}, 401},
		{"create", func() servertest.Response {
			return s.Do("POST", "/session", map[string]any{"image": "python", "name": "secrets1"}, nil)
		}, 201},
		{"execute", func() servertest.Response {
			return s.Do("POST", "/session/secrets1", map[string]any{"mode": "query", "runId": "r1", "code": "print(6 * 7)"}, nil)
		}, 200},
		{"execute with a wrong secret", func() servertest.Response {
			return s.DoAs(ak, wrongSecret, "POST", "/session/secrets1", map[string]any{"mode": "query", "code": "print(1)"}, nil)
		}, 401},
		{"unknown session", func() servertest.Response { return s.Do("GET", "/session/nosuchsession", nil, nil) }, 404},
		{"destroy", func() servertest.Response { return s.Do("DELETE", "/session/secrets1?forced=true", nil, nil) }, 200},
		{"agent call with a wrong cluster secret", func() servertest.Response {
			return s.Do("POST", "/agent/heartbeat", map[string]any{}, map[string]string{aproto.HeaderClusterSecret: wrongSecret})
		}, 401},
	}
	for i := 0; i < 5; i++ {
		want := 200
		if i >= 3 {
			want = 429
		}
		steps = append(steps, struct {
			name   string
			do     func() servertest.Response
			status int
		}{"rate-limited keypair", func() servertest.Response { return s.DoAs(userAK, userSK, "GET", "/session", nil, nil) }, want})
	}
	steps = append(steps, struct {
		name   string
		do     func() servertest.Response
		status int
	}{"rate-limited keypair, wrong secret", func() servertest.Response { return s.DoAs(userAK, wrongSecret, "GET", "/session", nil, nil) }, 401})

	for _, st := range steps {
		if r := st.do(); r.Status != st.status {
			t.Errorf("%s: %d, want %d: %s", st.name, r.Status, st.status, r.Body)
		}
	}
	s.Stop() // its shutdown lines too

	// The log covers the paths under test: the refusals are logged (at
	// debug level, with what the client was told), and the session's life.
	out := logged.String()
	for _, want := range []string{"manager listening", "kernel started", "status=401 msg=\"signature mismatch", "status=401 msg=\"unknown access key",
		"status=401 msg=\"agent endpoints need the cluster secret", "status=429 msg=\"keypair " + userAK, "status=404"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q; it captured:\n%s", want, out)
		}
	}
	for what, secret := range map[string]string{"the superadmin's secret key": sk, "a user's secret key": userSK,
		"the wrong secret a client signed with": wrongSecret, "the cluster secret": s.Cfg.ClusterSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %s:\n%s", what, out)
		}
	}
	t.Logf("%d log lines checked", strings.Count(out, "\n"))
}
