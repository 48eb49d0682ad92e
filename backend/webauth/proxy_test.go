package webauth

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/config"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxied := &Service{cfg: config.Web{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}}}
	direct := &Service{}
	for _, c := range []struct {
		name string
		s    *Service
		peer string
		xff  []string
		want string
	}{
		{"no proxies: the peer, whatever the header says", direct, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"untrusted peer: header ignored", proxied, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted peer: the client it names", proxied, "10.1.2.3:4000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", proxied, "10.1.2.3:4000", []string{"198.51.100.9, 192.0.2.7", "10.9.9.9"}, "198.51.100.9"},
		{"spoofed entries left of the real client", proxied, "10.1.2.3:4000", []string{"6.6.6.6, 7.7.7.7, 198.51.100.9"}, "198.51.100.9"},
		{"garbage stops the walk at the last trusted hop", proxied, "10.1.2.3:4000", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"no header: the proxy itself", proxied, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"IPv4-mapped IPv6 peer and client", proxied, "[::ffff:10.1.2.3]:4000", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.s.clientAddr(r); got != c.want {
			t.Errorf("%s: clientAddr = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestOIDCStartLimit: one address may begin only so many OIDC sign-ins a
// minute (each stores a record); others are not affected.
func TestOIDCStartLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	// The issuer does not answer: every start that passes the limit fails
	// at discovery, which is enough to tell the two refusals apart.
	cfg := config.Web{OIDCStarts: 3, OIDC: config.OIDC{Issuer: "http://127.0.0.1:1", ClientID: "x"}}
	s := &Service{cfg: cfg, now: clock, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		fails: newFailures(10, time.Minute, clock), starts: newFailures(cfg.OIDCStarts, time.Minute, clock),
		oidc: newOIDCClient(cfg.OIDC)}
	e := echo.New()
	start := func(peer string) string {
		r := httptest.NewRequest(http.MethodGet, "/auth/oidc/login", nil)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		if err := s.oidcLogin(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		loc, _ := url.Parse(w.Header().Get("Location"))
		return loc.Query().Get("error")
	}
	for i := 0; i < 3; i++ {
		if msg := start("203.0.113.5:1"); !strings.Contains(msg, "cannot be reached") {
			t.Fatalf("start %d: %q, want the discovery failure", i+1, msg)
		}
	}
	if msg := start("203.0.113.5:1"); !strings.Contains(msg, "Too many sign-ins") {
		t.Errorf("4th start: %q, want the rate limit", msg)
	}
	if msg := start("198.51.100.9:1"); strings.Contains(msg, "Too many") {
		t.Errorf("another address was limited too: %q", msg)
	}
	now = now.Add(time.Minute)
	if msg := start("203.0.113.5:1"); strings.Contains(msg, "Too many") {
		t.Errorf("still limited after the window: %q", msg)
	}
}
