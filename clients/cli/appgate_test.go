package cli

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestAppGate(t *testing.T) {
	t.Parallel()
	g, err := newAppGate(8080)
	if err != nil {
		t.Fatal(err)
	}
	try := func(raw string) (head string, answer string, rest string) {
		t.Helper()
		var w strings.Builder
		br := bufio.NewReader(strings.NewReader(raw))
		h := g.admit(&w, br)
		r, _ := io.ReadAll(br)
		return string(h), w.String(), string(r)
	}
	// The printed URL: a redirect that sets the cookie and drops the token.
	head, ans, _ := try("GET /tree?x=1&bai_token=" + g.token + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
	if head != "" || !strings.HasPrefix(ans, "HTTP/1.1 302 ") || !strings.Contains(ans, "Location: /tree?x=1\r\n") ||
		!strings.Contains(ans, "Set-Cookie: bai_app_8080="+g.token+"; Path=/; HttpOnly; SameSite=Strict\r\n") {
		t.Errorf("token URL: head %q, answer %q", head, ans)
	}
	// With the cookie: the head passes unchanged, the body stays behind.
	req := "POST /api/kernels HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nCookie: _xsrf=a; bai_app_8080=" + g.token + "\r\nContent-Length: 2\r\n\r\n"
	head, ans, rest := try(req + "{}")
	if head != req || ans != "" || rest != "{}" {
		t.Errorf("with the cookie: head %q, answer %q, rest %q", head, ans, rest)
	}
	for name, raw := range map[string]string{
		"no cookie":          "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"wrong cookie":       "GET / HTTP/1.1\r\nHost: x\r\nCookie: bai_app_8080=nope\r\n\r\n",
		"another port's one": "GET / HTTP/1.1\r\nHost: x\r\nCookie: bai_app_8081=" + g.token + "\r\n\r\n",
		"wrong token":        "GET /?bai_token=0000 HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if head, ans, _ := try(raw); head != "" || !strings.HasPrefix(ans, "HTTP/1.1 403 ") {
			t.Errorf("%s: head %q, answer %.40q", name, head, ans)
		}
	}
	if head, ans, _ := try("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHead) + "\r\n\r\n"); head != "" || !strings.HasPrefix(ans, "HTTP/1.1 400 ") {
		t.Errorf("huge head: head %q, answer %.40q", head, ans)
	}
	if head, ans, _ := try(""); head != "" || ans != "" {
		t.Errorf("closed at once: head %q, answer %q", head, ans)
	}
}
