package compat_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/e2e/compat"
)

// sdkSign is the Python SDK's generate_signature, transcribed as the SDK
// computes it, so the Go client is checked against the reference language.
const sdkSign = `
import hashlib, hmac, sys, json
from datetime import datetime
a = json.loads(sys.stdin.read())
date = datetime.fromisoformat(a["date"])
body_hash = hashlib.sha256(a["body"].encode()).hexdigest()
s = "{}\n{}\n{}\nhost:{}\ncontent-type:{}\nx-backendai-version:{}\n{}".format(
    a["method"].upper(), a["path"], date.isoformat(), a["host"], a["ct"].lower(), a["version"], body_hash)
k = hmac.new(a["secret"].encode(), date.strftime("%Y%m%d").encode(), "sha256").digest()
k = hmac.new(k, a["host"].encode(), "sha256").digest()
print(hmac.new(k, s.encode(), "sha256").hexdigest())
`

func TestSignMatchesPythonSDK(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot compare with the reference signing")
	}
	date := time.Date(2026, 11, 27, 6, 48, 23, 126693000, time.UTC)
	tests := []struct {
		name, method, path, host, ct, version, body string
	}{
		{"get", "GET", "/session/abc?owner_access_key=AKIA", "127.0.0.1:8081", "text/plain", compat.V6, ""},
		{"post json", "post", "/kernel/create", "localhost:9", "application/json", compat.V4, ""},
		{"old body hash", "POST", "/v3/kernel/create", "h:1", "application/json", compat.V3, `{"lang":"python"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, _ := json.Marshal(map[string]string{
				"date": compat.FormatDate(date), "method": tc.method, "path": tc.path, "host": tc.host,
				"ct": tc.ct, "version": tc.version, "body": tc.body, "secret": "s3cr3t",
			})
			cmd := exec.Command(py, "-c", sdkSign)
			cmd.Stdin = strings.NewReader(string(in))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python: %v", err)
			}
			h := sha256.Sum256([]byte(tc.body))
			got := compat.Sign("s3cr3t", date, tc.host,
				compat.StringToSign(tc.method, tc.path, compat.FormatDate(date), tc.host, tc.ct, tc.version, hex.EncodeToString(h[:])))
			if want := strings.TrimSpace(string(out)); got != want {
				t.Errorf("signature %s, python SDK %s", got, want)
			}
		})
	}
}

func TestFormatDateLikePython(t *testing.T) {
	t.Parallel()
	got := compat.FormatDate(time.Date(2026, 11, 27, 6, 48, 23, 126693000, time.UTC))
	if want := "2026-11-27T06:48:23.126693+00:00"; got != want {
		t.Errorf("FormatDate = %q, want %q", got, want)
	}
}

// TestWire checks what the client puts on the wire and that the signature
// verifies with an independent check of the server side rules.
func TestWire(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, ct, dateHdr, auth, version, domain, ua string
		body                                                 []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("X-BackendAI-Date"),
			r.Header.Get("Authorization"), r.Header.Get("X-BackendAI-Version"), r.Header.Get("X-BackendAI-Domain"),
			r.Header.Get("User-Agent"), b}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sessionId":"00000000-0000-4000-8000-000000000000","status":"RUNNING","created":true}`))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	tests := []struct {
		name     string
		version  string
		wantPath string
		wantKeys []string
	}{
		{"v6", compat.V6, "/session", []string{"image", "name", "tag", "dependencies", "callback_url", "starts_at", "bootstrap_script", "owner_access_key", "startupCommand", "clusterSize", "clusterMode", "domain", "group"}},
		{"v4", compat.V4, "/kernel/create", []string{"lang", "clientSessionToken", "tag", "owner_access_key", "type"}},
		{"v3", compat.V3, "/kernel/create", []string{"lang", "clientSessionToken"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := compat.New(srv.URL, "AKIATEST0000000000AA", "secret").WithVersion(tc.version)
			if _, err := c.Create(context.Background(), compat.CreateOptions{Image: "python", Name: "abcd"}); err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.path != tc.wantPath || s.method != "POST" {
				t.Errorf("request %s %s, want POST %s", s.method, s.path, tc.wantPath)
			}
			if s.ct != "application/json" || s.version != tc.version || s.domain != "default" || s.ua != compat.SDKUserAgent {
				t.Errorf("headers ct=%q version=%q domain=%q ua=%q", s.ct, s.version, s.domain, s.ua)
			}
			var body map[string]any
			if err := json.Unmarshal(s.body, &body); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.wantKeys {
				if _, ok := body[k]; !ok {
					t.Errorf("create body lacks key %q: %s", k, s.body)
				}
			}
			hash := sha256.Sum256(nil)
			if tc.version == compat.V3 {
				hash = sha256.Sum256(s.body)
			}
			date, err := time.Parse("2006-01-02T15:04:05.999999-07:00", s.dateHdr)
			if err != nil {
				t.Fatalf("date header %q: %v", s.dateHdr, err)
			}
			want := compat.Sign("secret", date, u.Host, compat.StringToSign("POST", s.path, s.dateHdr, u.Host, s.ct, tc.version, hex.EncodeToString(hash[:])))
			if s.auth != "BackendAI signMethod=HMAC-SHA256, credential=AKIATEST0000000000AA:"+want {
				t.Errorf("authorization %q, want signature %s", s.auth, want)
			}
		})
	}

	t.Run("bodyless is text/plain", func(t *testing.T) {
		c := compat.New(srv.URL, "AKIATEST0000000000AA", "secret")
		if _, err := c.Do(context.Background(), compat.Request{Method: "GET", Path: "/session/x"}); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s.ct != "text/plain" || len(s.body) != 0 {
			t.Errorf("content type %q body %q", s.ct, s.body)
		}
	})
}
