package webauth

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// ContentSecurityPolicy is sent with every file of the app: scripts and
// connections only from this server, no plugins, no framing by other
// sites. Inline styles are allowed because editor and terminal widgets set
// them; media from the kernels arrives as data: and blob: URLs.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; frame-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// App serves the browser app's files: index.html for browsers at / and at
// every page path no API route claims (the app routes on the client), and
// the content-hashed bundles under /assets/, cached for a year.
type App struct {
	fsys fs.FS

	mu    sync.Mutex
	files map[string]*appFile // prepared on first request; the files never change
}

type appFile struct {
	body, gz []byte // gz: nil when not worth compressing
	ctype    string
	etag     string
}

// NewApp serves the files of fsys (web.Dist()).
func NewApp(fsys fs.FS) *App { return &App{fsys: fsys, files: map[string]*appFile{}} }

// Register mounts the app on e. Call it after the API's routes: its
// catch-all takes over echo's 404 for paths no route claims.
func (a *App) Register(e *echo.Echo) {
	e.Pre(a.root)
	e.GET("/assets/*", a.asset)
	e.HEAD("/assets/*", a.asset)
	e.RouteNotFound("/*", a.fallback)
}

// root answers GET / from a browser with index.html; API clients (which
// do not ask for text/html) get the server information as before.
func (a *App) root(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && acceptsHTML(r) {
			return a.serve(c, "index.html", false)
		}
		return next(c)
	}
}

func (a *App) asset(c echo.Context) error {
	p := path.Clean(c.Request().URL.Path)
	if !strings.HasPrefix(p, "/assets/") {
		return echo.ErrNotFound // /assets/../x: only bundles are cached for a year
	}
	return a.serve(c, strings.TrimPrefix(p, "/"), true)
}

// fallback runs for every request no route claims: a browser asking for a
// page gets index.html; a file at the top of the app (favicon.svg) is
// served; everything else stays a 404 problem.
func (a *App) fallback(c echo.Context) error {
	r := c.Request()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return echo.ErrNotFound
	}
	p := path.Clean(r.URL.Path)
	if strings.HasPrefix(p, "/assets/") {
		return echo.ErrNotFound
	}
	if name := strings.TrimPrefix(p, "/"); !strings.Contains(name, "/") && name != "index.html" && name != "" {
		if err := a.serve(c, name, false); !errors.Is(err, echo.ErrNotFound) {
			return err
		}
	}
	if acceptsHTML(r) {
		return a.serve(c, "index.html", false)
	}
	return echo.ErrNotFound
}

// serve writes one file of the app with its headers: gzip when the client
// takes it, an ETag for revalidation, immutable caching for hashed assets.
func (a *App) serve(c echo.Context, name string, immutable bool) error {
	f, err := a.file(name)
	if err != nil {
		return err
	}
	r, h := c.Request(), c.Response().Header()
	SecurityHeaders(h)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Add("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return c.Blob(http.StatusOK, f.ctype, body)
}

// SecurityHeaders sets the headers every page and file of the app carries.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// file reads and prepares name once (hash, type, compressed copy).
func (a *App) file(name string) (*appFile, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, echo.ErrNotFound
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.files[name]; ok {
		return f, nil
	}
	body, err := fs.ReadFile(a.fsys, name)
	if err != nil {
		// A missing file, or a directory: not found either way.
		return nil, echo.ErrNotFound
	}
	sum := sha256.Sum256(body)
	f := &appFile{body: body, ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if compressible(f.ctype) && len(body) >= 1024 {
		// A build that precompressed its files saves the work here.
		if gz, err := fs.ReadFile(a.fsys, name+".gz"); err == nil {
			f.gz = gz
		} else {
			var b bytes.Buffer
			w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			_, _ = w.Write(body)
			_ = w.Close()
			if b.Len() < len(body) {
				f.gz = b.Bytes()
			}
		}
	}
	a.files[name] = f
	return f, nil
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf",
	".wasm": "application/wasm", ".txt": "text/plain; charset=utf-8", ".webmanifest": "application/manifest+json",
}

// contentType goes by the extension (nosniff forbids the browser to
// guess, so it must be right).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		strings.HasPrefix(ctype, "image/svg") || ctype == "application/wasm" || ctype == "application/manifest+json"
}

// acceptsHTML reports whether the client asks for an HTML page (a browser
// navigating), as opposed to an API client or a script's fetch.
func acceptsHTML(r *http.Request) bool {
	return acceptsToken(r.Header.Get("Accept"), "text/html")
}

func acceptsGzip(r *http.Request) bool {
	return acceptsToken(r.Header.Get("Accept-Encoding"), "gzip")
}

// acceptsToken reports whether a comma-separated Accept-style header lists
// tok with a non-zero quality.
func acceptsToken(header, tok string) bool {
	for _, part := range strings.Split(header, ",") {
		fields := strings.Split(part, ";")
		if !strings.EqualFold(strings.TrimSpace(fields[0]), tok) {
			continue
		}
		for _, p := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}
