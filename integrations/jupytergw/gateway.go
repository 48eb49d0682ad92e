package jupytergw

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// Backend is the part of the Go SDK (*client.Client) the gateway uses:
// what every kernel on a bai session needs, and the session calls behind
// the REST API's kernel models and restarts.
type Backend interface {
	kernelcore.API
	GetSession(ctx context.Context, nameOrID string) (*apitypes.SessionInfo, error)
	ListSessions(ctx context.Context) ([]apitypes.SessionInfo, error)
	RestartSession(ctx context.Context, nameOrID string) error
}

var _ Backend = (*client.Client)(nil)

// Config wires a Gateway.
type Config struct {
	// Backend reaches the manager with the gateway's keypair.
	Backend Backend
	// Token is the secret every request must present
	// (Authorization: token <t>, or ?token=<t>). Required.
	Token string
	// Version is reported by GET /api and in kernel_info_reply.
	Version string
	// Log receives the gateway's log; slog.Default() when nil.
	Log *slog.Logger
	// SessionPrefix starts the names of the sessions the gateway creates
	// ("jgw-" when empty); the rest is the kernel id.
	SessionPrefix string
	// Now is the clock for message dates and activity; time.Now when nil.
	Now func() time.Time
}

// Gateway serves the Jupyter kernels API. Create it with New and serve
// Handler; call Shutdown to destroy the kernels it created.
type Gateway struct {
	be      Backend
	token   [sha256.Size]byte
	version string
	log     *slog.Logger
	prefix  string
	now     func() time.Time

	mu      sync.Mutex
	kernels map[string]*kernel // by kernel id
	closed  bool
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Backend == nil {
		return nil, fmt.Errorf("jupyter gateway needs a backend client: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("jupyter gateway needs a token (--token or BAI_GATEWAY_TOKEN): %w", errdefs.ErrInvalidArgument)
	}
	g := &Gateway{
		be: cfg.Backend, token: sha256.Sum256([]byte(cfg.Token)), version: cfg.Version,
		log: cfg.Log, prefix: cfg.SessionPrefix, now: cfg.Now, kernels: map[string]*kernel{},
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.prefix == "" {
		g.prefix = "jgw-"
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.version == "" {
		g.version = "dev"
	}
	return g, nil
}

// Handler returns the HTTP handler of the whole API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", g.apiInfo)
	mux.HandleFunc("GET /api/{$}", g.apiInfo)
	mux.HandleFunc("GET /api/kernelspecs", g.handle(g.listSpecs))
	mux.HandleFunc("GET /api/kernelspecs/{name}", g.handle(g.getSpec))
	mux.HandleFunc("GET /api/kernels", g.handle(g.listKernels))
	mux.HandleFunc("POST /api/kernels", g.handle(g.createKernel))
	mux.HandleFunc("GET /api/kernels/{id}", g.handle(g.getKernel))
	mux.HandleFunc("DELETE /api/kernels/{id}", g.handle(g.deleteKernel))
	mux.HandleFunc("POST /api/kernels/{id}/interrupt", g.handle(g.interruptKernel))
	mux.HandleFunc("POST /api/kernels/{id}/restart", g.handle(g.restartKernel))
	mux.HandleFunc("GET /api/kernels/{id}/channels", g.channels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("no route %s %s: %w", r.Method, r.URL.Path, errdefs.ErrNotFound))
	})
	return g.auth(mux)
}

// auth lets through only requests that carry the token. A missing token
// is 401, a wrong one 403, as jupyter_server does. The comparison is on
// SHA-256 digests in constant time, so neither the token's content nor
// its length leaks through timing.
func (g *Gateway) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := requestToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", "token")
			writeJSON(w, http.StatusUnauthorized, errorBody{Message: "a token is required: send Authorization: token <t> or ?token=<t>", Reason: "Unauthorized"})
			return
		}
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], g.token[:]) != 1 {
			writeJSON(w, http.StatusForbidden, errorBody{Message: "the token is not valid for this gateway", Reason: "Forbidden"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestToken finds the token in the Authorization header (schemes
// "token" and "Bearer") or the token query parameter.
func requestToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
		if (strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer")) && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), true
		}
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		return tok, true
	}
	return "", false
}

// errorBody is jupyter_server's error shape.
type errorBody struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// handle adapts a handler that returns (status, body, error) so that every
// error is written in one place.
func (g *Gateway) handle(h func(r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := h(r)
		if err != nil {
			if statusOf(err) >= 500 {
				g.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}
}

// statusOf maps an error to the HTTP status the gateway answers. The
// manager refusing the gateway's own keypair is the gateway's problem, not
// the client's, so it is 502 rather than 401/403.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrQuotaExceeded):
		return http.StatusForbidden
	case errors.Is(err, errdefs.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, errdefs.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errdefs.ErrUnauthenticated), errors.Is(err, errdefs.ErrPermissionDenied):
		return http.StatusBadGateway
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errdefs.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	writeJSON(w, status, errorBody{Message: err.Error(), Reason: http.StatusText(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) apiInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": g.version, "gateway": "bai-jupyter-gateway"})
}

func (g *Gateway) specs(ctx context.Context) (SpecList, error) {
	images, err := g.be.Images(ctx)
	if err != nil {
		return SpecList{}, err
	}
	return specsFromImages(images), nil
}

func (g *Gateway) listSpecs(r *http.Request) (int, any, error) {
	sl, err := g.specs(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sl, nil
}

func (g *Gateway) getSpec(r *http.Request) (int, any, error) {
	sl, err := g.specs(r.Context())
	if err != nil {
		return 0, nil, err
	}
	name := r.PathValue("name")
	ks, ok := sl.Kernelspecs[name]
	if !ok {
		return 0, nil, fmt.Errorf("kernel spec %q: %w (known: %s)", name, errdefs.ErrNotFound, strings.Join(specNames(sl), ", "))
	}
	return http.StatusOK, ks, nil
}

func specNames(sl SpecList) []string {
	names := make([]string, 0, len(sl.Kernelspecs))
	for n := range sl.Kernelspecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KernelModel is the kernel model of jupyter_server's REST API.
type KernelModel struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	LastActivity   string `json:"last_activity"`
	ExecutionState string `json:"execution_state"`
	Connections    int    `json:"connections"`
}

// createRequest is the body of POST /api/kernels.
type createRequest struct {
	Name string         `json:"name"`
	Env  map[string]any `json:"env"`
	Path string         `json:"path"`
}

func (g *Gateway) createKernel(r *http.Request) (int, any, error) {
	var req createRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read request: %w", err)
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return 0, nil, fmt.Errorf("request body is not a kernel request: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	sl, err := g.specs(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if req.Name == "" {
		req.Name = sl.Default
	}
	spec, ok := sl.Kernelspecs[req.Name]
	if !ok {
		return 0, nil, fmt.Errorf("kernel spec %q: %w (known: %s)", req.Name, errdefs.ErrNotFound, strings.Join(specNames(sl), ", "))
	}
	env := map[string]string{}
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return 0, nil, fmt.Errorf("environment variable name %q: %w", k, errdefs.ErrInvalidArgument)
		}
		switch v := v.(type) {
		case string:
			env[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			env[k] = string(b)
		}
	}

	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return 0, nil, fmt.Errorf("the gateway is shutting down: %w", errdefs.ErrUnavailable)
	}
	id := uuid.NewString()
	session := g.prefix + id
	tag := "jupyter-gateway"
	create := apitypes.CreateSession{Image: spec.image, Name: session, Tag: &tag, ReuseIfExists: new(bool)}
	if len(env) > 0 {
		create.Config = &apitypes.CreateConfig{Environ: env}
	}
	// The session must outlive this request: a client that gives up waiting
	// would otherwise leave a half-created session nobody tracks.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
	defer cancel()
	res, err := g.be.CreateSession(ctx, create)
	if err != nil {
		return 0, nil, err
	}
	if st := types.SessionStatus(res.Status); st.Final() {
		// Tell the user why, and do not keep a dead session around.
		_, _ = g.be.DestroySession(ctx, session, true)
		return 0, nil, fmt.Errorf("session for kernel %s ended as %s: %s: %w", req.Name, res.Status, res.StatusInfo, errdefs.ErrUnavailable)
	}
	k := newKernel(g, id, session, spec)
	if res.Status != string(types.StatusRunning) {
		k.state = "starting"
	}
	g.mu.Lock()
	g.kernels[id] = k
	g.mu.Unlock()
	go k.work()
	g.log.Info("kernel started", "kernel_id", id, "session_name", session, "image", spec.image)
	return http.StatusCreated, k.model(), nil
}

// lookup returns the kernel of that id; a kernel this gateway did not
// create is not found, whatever sessions the keypair has.
func (g *Gateway) lookup(id string) (*kernel, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.kernels[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kernel %s: %w", id, errdefs.ErrNotFound)
}

// forget drops a kernel from the table and stops it; its session is not
// touched.
func (g *Gateway) forget(k *kernel, why string) {
	g.mu.Lock()
	if g.kernels[k.id] == k {
		delete(g.kernels, k.id)
	}
	g.mu.Unlock()
	k.stop(why)
}

// alive reports whether a session status still backs a kernel.
func alive(si *apitypes.SessionInfo) bool {
	return si != nil && types.SessionStatus(si.Status).Alive() && si.Status != string(types.StatusTerminating)
}

func (g *Gateway) getKernel(r *http.Request) (int, any, error) {
	k, err := g.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	si, err := g.be.GetSession(r.Context(), k.session)
	switch {
	case errors.Is(err, errdefs.ErrNotFound) || (err == nil && !alive(si)):
		// The session ended behind our back (idle timeout, lifetime,
		// an administrator): the kernel is gone.
		g.forget(k, "its session ended")
		return 0, nil, fmt.Errorf("kernel %s: its session %s ended: %w", k.id, k.session, errdefs.ErrNotFound)
	case err != nil:
		return 0, nil, err
	}
	k.noteStatus(si.Status)
	return http.StatusOK, k.model(), nil
}

func (g *Gateway) listKernels(r *http.Request) (int, any, error) {
	sessions, err := g.be.ListSessions(r.Context())
	if err != nil {
		return 0, nil, err
	}
	byName := map[string]*apitypes.SessionInfo{}
	for i := range sessions {
		si := &sessions[i]
		if old, ok := byName[si.SessionName]; !ok || alive(si) || !alive(old) {
			byName[si.SessionName] = si
		}
	}
	g.mu.Lock()
	ks := make([]*kernel, 0, len(g.kernels))
	for _, k := range g.kernels {
		ks = append(ks, k)
	}
	g.mu.Unlock()
	sort.Slice(ks, func(i, j int) bool { return ks[i].created.Before(ks[j].created) })
	out := []KernelModel{}
	for _, k := range ks {
		si := byName[k.session]
		if !alive(si) {
			g.forget(k, "its session ended")
			continue
		}
		k.noteStatus(si.Status)
		out = append(out, k.model())
	}
	return http.StatusOK, out, nil
}

func (g *Gateway) deleteKernel(r *http.Request) (int, any, error) {
	k, err := g.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if err := g.shutdownKernel(r.Context(), k); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// shutdownKernel stops the kernel and destroys its session. A session that
// is already gone counts as destroyed.
func (g *Gateway) shutdownKernel(ctx context.Context, k *kernel) error {
	g.forget(k, "kernel shut down")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := g.be.DestroySession(ctx, k.session, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("kernel %s: %w", k.id, err)
	}
	g.log.Info("kernel shut down", "kernel_id", k.id, "session_name", k.session)
	return nil
}

func (g *Gateway) interruptKernel(r *http.Request) (int, any, error) {
	k, err := g.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if err := k.interrupt(r.Context()); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (g *Gateway) restartKernel(r *http.Request) (int, any, error) {
	k, err := g.lookup(r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if err := k.restart(r.Context()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, k.model(), nil
}

// Shutdown destroys every kernel this gateway created, as Jupyter Kernel
// Gateway does when it exits, so no session outlives the gateway that
// alone could reach it. New kernels are refused from then on.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	ks := make([]*kernel, 0, len(g.kernels))
	for _, k := range g.kernels {
		ks = append(ks, k)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(ks))
	for i, k := range ks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.shutdownKernel(ctx, k)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
