package webauth_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/webauth"
)

// A build of the app as Vite lays it out: index.html, hashed bundles under
// assets/ (one precompressed), a file from public/ at the top.
var dist = fstest.MapFS{
	"index.html":                {Data: []byte(`<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>`)},
	"assets/index-abc123.js":    {Data: []byte(strings.Repeat("console.log('bai');\n", 200))},
	"assets/index-abc123.css":   {Data: []byte(strings.Repeat("body{margin:0}\n", 200))},
	"assets/pre-1.js":           {Data: []byte(strings.Repeat("x();", 400))},
	"assets/pre-1.js.gz":        {Data: gz(strings.Repeat("x();", 400))},
	"assets/logo-9f.png":        {Data: []byte("\x89PNG\r\n\x1a\n....")},
	"assets/font-1.woff2":       {Data: []byte("wOF2....")},
	"assets/tiny-2.js":          {Data: []byte("1")},
	"favicon.svg":               {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	"assets/nested/deep-3.wasm": {Data: []byte("\x00asm")},
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func appServer(t *testing.T) *echo.Echo {
	t.Helper()
	e := echo.New()
	e.GET("/", func(c echo.Context) error { return c.JSON(200, map[string]string{"version": "api"}) })
	e.GET("/session", func(c echo.Context) error { return c.JSON(200, map[string]any{"items": []any{}}) })
	webauth.NewApp(dist).Register(e)
	return e
}

func get(e *echo.Echo, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestAppFiles(t *testing.T) {
	t.Parallel()
	e := appServer(t)
	const immutable = "public, max-age=31536000, immutable"
	for _, c := range []struct {
		path, accept, encoding string
		status                 int
		ctype, cache, cenc     string
	}{
		{"/assets/index-abc123.js", "*/*", "gzip, deflate, br", 200, "text/javascript; charset=utf-8", immutable, "gzip"},
		{"/assets/index-abc123.js", "*/*", "", 200, "text/javascript; charset=utf-8", immutable, ""},
		{"/assets/index-abc123.css", "text/css,*/*;q=0.1", "gzip", 200, "text/css; charset=utf-8", immutable, "gzip"},
		{"/assets/pre-1.js", "*/*", "gzip", 200, "text/javascript; charset=utf-8", immutable, "gzip"},
		{"/assets/logo-9f.png", "image/*", "gzip", 200, "image/png", immutable, ""},
		{"/assets/font-1.woff2", "*/*", "gzip", 200, "font/woff2", immutable, ""},
		{"/assets/tiny-2.js", "*/*", "gzip", 200, "text/javascript; charset=utf-8", immutable, ""},
		{"/assets/nested/deep-3.wasm", "*/*", "", 200, "application/wasm", immutable, ""},
		{"/favicon.svg", "image/*", "", 200, "image/svg+xml", "no-cache", ""},
		{"/assets/missing.js", "text/html", "", 404, "", "", ""},
		{"/assets/", "text/html", "", 404, "", "", ""},
		{"/assets/../index.html", "*/*", "", 404, "", "", ""},
		{"/", "text/html", "gzip", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"/app/terminal/s1", "text/html", "", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"/app/terminal/s1", "application/json", "", 404, "", "", ""},
	} {
		rec := get(e, "GET", c.path, map[string]string{"Accept": c.accept, "Accept-Encoding": c.encoding})
		name := c.path + " (" + c.encoding + ")"
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d: %.100s", name, rec.Code, c.status, rec.Body)
			continue
		}
		if c.status != 200 {
			continue
		}
		h := rec.Header()
		if h.Get("Content-Type") != c.ctype || h.Get("Cache-Control") != c.cache || h.Get("Content-Encoding") != c.cenc {
			t.Errorf("%s: type %q cache %q encoding %q, want %q %q %q", name, h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("Content-Encoding"), c.ctype, c.cache, c.cenc)
		}
		if h.Get("Content-Security-Policy") != webauth.ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: security headers missing: %v", name, h)
		}
		// The body is the file, whatever the encoding.
		body := rec.Body.Bytes()
		if c.cenc == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if rec.Body.Len() >= len(body) {
				t.Errorf("%s: compressed %d bytes of %d", name, rec.Body.Len(), len(body))
			}
		}
		want := c.path
		if strings.HasPrefix(want, "/app/") || want == "/" {
			want = "/index.html"
		}
		if !bytes.Equal(body, dist[strings.TrimPrefix(want, "/")].Data) {
			t.Errorf("%s: body is not %s", name, want)
		}
	}
	// The API keeps its root and routes.
	if rec := get(e, "GET", "/", map[string]string{"Accept": "application/json"}); rec.Body.String() != "{\"version\":\"api\"}\n" {
		t.Errorf("GET / as JSON: %s", rec.Body)
	}
	if rec := get(e, "GET", "/session", map[string]string{"Accept": "text/html"}); !strings.Contains(rec.Body.String(), "items") {
		t.Errorf("an API route from a browser: %s", rec.Body)
	}
}

func TestAppRevalidation(t *testing.T) {
	t.Parallel()
	e := appServer(t)
	for _, enc := range []string{"", "gzip"} {
		first := get(e, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": enc})
		etag := first.Header().Get("ETag")
		if etag == "" || !strings.Contains(first.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("encoding %q: ETag %q Vary %q", enc, etag, first.Header().Get("Vary"))
		}
		again := get(e, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": enc, "If-None-Match": etag})
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("encoding %q: revalidation %d with %d bytes", enc, again.Code, again.Body.Len())
		}
	}
	plain := get(e, "GET", "/assets/index-abc123.js", nil).Header().Get("ETag")
	zipped := get(e, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
	if plain == zipped {
		t.Errorf("the gzip and identity answers share the ETag %s", plain)
	}
	if rec := get(e, "HEAD", "/assets/index-abc123.js", nil); rec.Code != 200 || rec.Header().Get("Content-Length") != "4000" {
		t.Errorf("HEAD: %d length %q", rec.Code, rec.Header().Get("Content-Length"))
	}
}
