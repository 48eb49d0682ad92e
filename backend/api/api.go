package api

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/session"
	"baigo.dev/bai/backend/vfolder"
	"baigo.dev/bai/backend/webauth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/sign"
)

// Handlers serves the public API and the agents' endpoints.
type Handlers struct {
	Cfg      config.Config
	Keys     *auth.Keys
	Limiter  *auth.RateLimiter // nil: no rate limiting
	Sessions *session.Service
	VFolders *vfolder.Service // nil: no /folders routes
	Log      *slog.Logger
	Now      func() time.Time
	// Web signs browsers in (cookie sessions) and manages users and
	// keypairs for the admin pages; nil: HMAC-signed clients only, and no
	// user or keypair admin routes.
	Web *webauth.Service

	closeOnce sync.Once
	closing   chan struct{} // made by Register, closed by CloseStreams
}

// CloseStreams ends the long-lived agent streams (hijacked connections,
// which an HTTP server shutdown does not close), so agents fail over.
func (h *Handlers) CloseStreams() {
	h.closeOnce.Do(func() { close(h.closing) })
}

var legacyPrefix = regexp.MustCompile(`^/v(\d+)(/|$)`)

// StripLegacyPrefix rewrites /v{N}/kernel/... to /kernel/...; the signature
// still covers the path exactly as sent (RequestURI).
func StripLegacyPrefix(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if m := legacyPrefix.FindStringSubmatch(r.URL.Path); m != nil {
			r.URL.Path = "/" + strings.TrimPrefix(r.URL.Path[len(m[0]):], "/")
			r.URL.RawPath = ""
		}
		return next(c)
	}
}

// Register mounts every route on e.
func (h *Handlers) Register(e *echo.Echo) {
	h.closing = make(chan struct{})
	e.GET("/", h.root)
	e.HEAD("/", h.root)

	ag := e.Group("/agent", h.clusterAuth)
	ag.POST("/heartbeat", h.heartbeat)
	ag.GET("/stream", h.heartbeatStream)
	ag.POST("/events", h.kernelEvent)

	g := e.Group("", h.authenticate)
	g.GET("/manager/announcement", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"enabled": false, "message": ""})
	})
	g.GET("/manager/status", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"status": "running", "version": h.Cfg.Version})
	})
	g.GET("/images", h.images)
	h.registerAdmin(g)
	h.registerApps(g)
	h.registerFolders(g)
	h.registerTemplates(g)
	g.GET("/events/session", h.sessionEvents)
	g.GET("/stream/session/:name/execute", h.executeStream)
	g.GET("/stream/kernel/:name/execute", h.executeStream)
	g.POST("/kernel/create", h.create)
	for _, p := range []string{"/session", "/kernel"} {
		g.POST(p, h.create)
		g.POST(p+"/_/create", h.create)
		g.GET(p, h.list)
		g.GET(p+"/:name", h.info)
		g.DELETE(p+"/:name", h.destroy)
		g.PATCH(p+"/:name", h.restart)
		g.POST(p+"/:name", h.execute)
		g.POST(p+"/:name/interrupt", h.interrupt)
		g.POST(p+"/:name/complete", h.complete)
		g.GET(p+"/:name/logs", h.logs)
		h.registerFiles(g, p)
	}
}

func (h *Handlers) root(c echo.Context) error {
	return c.JSON(http.StatusOK, apitypes.ServerInfo{Version: sign.NewestVersion, Manager: h.Cfg.Version})
}

func (h *Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func unauth(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errdefs.ErrUnauthenticated)...)
}

// authenticate verifies the HMAC signature (see API.md) and stores the
// keypair and the effective owner in the context.
func (h *Handlers) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		hdr := r.Header.Get("Authorization")
		if hdr == "" && h.Web != nil {
			// The web app's browsers send a session cookie instead of a
			// signature; webauth also applies the CSRF and Origin rules
			// that make a cookie safe. A request that carries
			// Authorization is judged by its signature alone, whatever
			// cookie comes with it.
			kp, err := h.Web.Authenticate(c)
			if err != nil {
				return err
			}
			if kp != nil {
				return h.admit(c, kp, next)
			}
		}
		if hdr == "" {
			return unauth("missing Authorization header: sign requests with an access key and secret key")
		}
		ak, sig, err := sign.ParseAuthorization(hdr)
		if err != nil {
			return err
		}
		ver := r.Header.Get(apitypes.HeaderVersion)
		v, err := sign.ParseVersion(ver)
		if err != nil {
			return fmt.Errorf("header %s: %w", apitypes.HeaderVersion, err)
		}
		dateRaw := r.Header.Get(apitypes.HeaderDate)
		if dateRaw == "" {
			dateRaw = r.Header.Get("Date")
		}
		if dateRaw == "" {
			return unauth("missing %s (or Date) header", apitypes.HeaderDate)
		}
		date, err := sign.ParseDate(dateRaw)
		if err != nil {
			return err
		}
		if d := h.now().Sub(date); d > h.Cfg.DateSkew || d < -h.Cfg.DateSkew {
			return unauth("request date %s is %s off the server clock (allowed: %s); check the client's clock", dateRaw, d.Round(time.Second), h.Cfg.DateSkew)
		}
		kp, err := h.Keys.Get(r.Context(), ak)
		if err != nil {
			return err
		}
		bodyHash := ""
		// Old versions sign the body's hash, except for multipart bodies
		// (uploads), whose hash they leave empty as newer versions do.
		if v.HashesBody() && !strings.HasPrefix(auth.MediaType(r.Header.Get("Content-Type")), "multipart/") {
			// Read before the signature is known to be good: bounded
			// even on the routes LimitBody leaves uncapped (folder
			// uploads and chunks stream to disk), so an unauthenticated
			// client cannot make the server buffer an unbounded body.
			if h.Cfg.MaxBodyBytes > 0 {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, h.Cfg.MaxBodyBytes)
			}
			body, err := readBody(r)
			if err != nil {
				return err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			bodyHash = sign.BodyHash(body)
		}
		uri := r.RequestURI
		if strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") {
			uri = r.URL.RequestURI()
		}
		sr := sign.Request{Method: r.Method, PathQuery: uri, Date: dateRaw, Host: r.Host,
			ContentType: auth.MediaType(r.Header.Get("Content-Type")), Version: ver, BodyHash: bodyHash}
		ok := sign.Equal(sign.Signature(kp.SecretKey, sr, date), sig)
		if !ok && r.Header.Get("Content-Type") != "" {
			// Some clients sign the full header with its parameters.
			sr.ContentType = r.Header.Get("Content-Type")
			ok = sign.Equal(sign.Signature(kp.SecretKey, sr, date), sig)
		}
		if !ok {
			return unauth("signature mismatch: check the secret key, and that the client signs the Host and path it sends")
		}
		return h.admit(c, kp, next)
	}
}

// admit lets an authenticated keypair's request through: the keypair's
// rate limit, the effective owner (owner_access_key), and the keypair in
// the request context.
func (h *Handlers) admit(c echo.Context, kp *auth.KeyPair, next echo.HandlerFunc) error {
	r := c.Request()
	if h.Limiter != nil && kp.RateLimit > 0 {
		left, allowed := h.Limiter.Allow(kp.AccessKey, kp.RateLimit)
		hd := c.Response().Header()
		hd.Set("X-RateLimit-Limit", strconv.Itoa(kp.RateLimit))
		hd.Set("X-RateLimit-Remaining", strconv.Itoa(max(left, 0)))
		hd.Set("X-RateLimit-Window", strconv.Itoa(int(auth.RateWindow.Seconds())))
		if !allowed {
			return fmt.Errorf("keypair %s made %d requests in the last %s, its limit; wait and retry: %w",
				kp.AccessKey, kp.RateLimit, auth.RateWindow, errdefs.ErrRateLimited)
		}
	}
	owner := session.Owner{AccessKey: kp.AccessKey, Domain: kp.Domain}
	if o := c.QueryParam("owner_access_key"); o != "" && o != kp.AccessKey {
		if !kp.Superadmin {
			return fmt.Errorf("only superadmins may act for another keypair (owner_access_key): %w", errdefs.ErrPermissionDenied)
		}
		if _, err := h.Keys.Get(r.Context(), o); err != nil {
			return fmt.Errorf("owner_access_key %q is not an active keypair: %w", o, errdefs.ErrInvalidArgument)
		}
		owner.AccessKey = o
	}
	c.Set("owner", owner)
	c.SetRequest(r.WithContext(auth.With(r.Context(), kp)))
	h.Keys.Touch(kp.AccessKey)
	return next(c)
}

func owner(c echo.Context) session.Owner { return c.Get("owner").(session.Owner) }

func (h *Handlers) clusterAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		got := c.Request().Header.Get(aproto.HeaderClusterSecret)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.Cfg.ClusterSecret)) != 1 {
			return unauth("agent endpoints need the cluster secret")
		}
		return next(c)
	}
}

// bind decodes a JSON body into v with messages a person can act on.
func bind(c echo.Context, v any, required bool) error {
	body, err := readBody(c.Request())
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return fmt.Errorf("the request body must be a JSON object: %w", errdefs.ErrInvalidArgument)
		}
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("field %q must be %s, not %s: %w", te.Field, te.Type.String(), te.Value, errdefs.ErrInvalidArgument)
		}
		return fmt.Errorf("malformed JSON body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (h *Handlers) create(c echo.Context) error {
	var req apitypes.CreateSession
	if err := bind(c, &req, true); err != nil {
		return err
	}
	res, err := h.Sessions.Create(c.Request().Context(), owner(c), req)
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if !res.Created {
		code = http.StatusOK
	}
	return c.JSON(code, res)
}

func (h *Handlers) list(c echo.Context) error {
	items, err := h.Sessions.List(c.Request().Context(), owner(c).AccessKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apitypes.SessionList{Items: items})
}

func (h *Handlers) info(c echo.Context) error {
	info, err := h.Sessions.Info(c.Request().Context(), owner(c).AccessKey, c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

func (h *Handlers) destroy(c echo.Context) error {
	forced, _ := strconv.ParseBool(c.QueryParam("forced"))
	stats, err := h.Sessions.Destroy(c.Request().Context(), owner(c).AccessKey, c.Param("name"), forced)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apitypes.DestroyResult{Stats: stats})
}

func (h *Handlers) restart(c echo.Context) error {
	if err := h.Sessions.Restart(c.Request().Context(), owner(c).AccessKey, c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) execute(c echo.Context) error {
	var req apitypes.Execute
	if err := bind(c, &req, true); err != nil {
		return err
	}
	res, err := h.Sessions.Execute(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apitypes.ExecuteResponse{Result: *res})
}

func (h *Handlers) interrupt(c echo.Context) error {
	if err := h.Sessions.Interrupt(c.Request().Context(), owner(c).AccessKey, c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) complete(c echo.Context) error {
	var req apitypes.Complete
	if err := bind(c, &req, true); err != nil {
		return err
	}
	res, err := h.Sessions.Complete(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apitypes.CompleteResult{Result: res})
}

func (h *Handlers) logs(c echo.Context) error {
	logs, err := h.Sessions.Logs(c.Request().Context(), owner(c).AccessKey, c.Param("name"))
	if err != nil {
		return err
	}
	var out apitypes.LogsResult
	out.Result.Logs = logs
	return c.JSON(http.StatusOK, out)
}

func (h *Handlers) images(c echo.Context) error {
	imgs, err := h.Sessions.Images(c.Request().Context())
	if err != nil {
		return err
	}
	out := apitypes.ImageList{Items: []apitypes.ImageInfo{}}
	for _, im := range imgs {
		min := map[string]string{}
		for k, v := range im.MinResources {
			min[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		out.Items = append(out.Items, apitypes.ImageInfo{Name: im.ID, Aliases: im.Aliases, RuntimeType: im.RuntimeType, MinResources: min, Labels: im.Labels})
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handlers) heartbeat(c echo.Context) error {
	var hb aproto.Heartbeat
	if err := bind(c, &hb, true); err != nil {
		return err
	}
	reply, err := h.Sessions.Heartbeat(c.Request().Context(), hb)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reply)
}

// heartbeatStream serves GET /agent/stream: an agent's heartbeats as
// WebSocket messages on one long-lived connection, each answered in order.
// Hundreds of agents beating every second then cost the manager a read and a
// write per heartbeat instead of a whole HTTP request.
func (h *Handlers) heartbeatStream(c echo.Context) error {
	ws, err := upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader already answered
	}
	defer ws.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-h.closing:
			ws.Close()
		case <-done:
		}
	}()
	ws.SetReadLimit(h.Cfg.MaxBodyBytes)
	ctx := c.Request().Context()
	for {
		// An agent beats every few seconds; a connection silent for two
		// minutes belongs to an agent that is gone.
		_ = ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, data, err := ws.ReadMessage()
		if err != nil {
			return nil
		}
		var hb aproto.Heartbeat
		var reply *aproto.HeartbeatReply
		if err := json.Unmarshal(data, &hb); err != nil {
			reply = &aproto.HeartbeatReply{Error: "malformed heartbeat: " + err.Error()}
		} else if reply, err = h.Sessions.Heartbeat(ctx, hb); err != nil {
			reply = &aproto.HeartbeatReply{Error: err.Error()}
		}
		if !hb.Ack && reply.Empty() {
			continue // nothing to say, and the agent did not ask
		}
		reply.Seq = hb.Seq
		out, _ := json.Marshal(reply)
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, out); err != nil {
			return nil
		}
	}
}

func (h *Handlers) kernelEvent(c echo.Context) error {
	var ev aproto.KernelEvent
	if err := bind(c, &ev, true); err != nil {
		return err
	}
	if ev.Kind == aproto.EventKernelDied {
		if err := h.Sessions.KernelDied(c.Request().Context(), ev); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("the request body is larger than %d bytes: %w", mbe.Limit, errdefs.ErrTooLarge)
		}
		return nil, fmt.Errorf("read request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return body, nil
}

// LimitBody caps request bodies so a huge upload is refused with 413
// instead of filling memory.
func LimitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			n := n
			if c.Path() == "/folders/:name/upload" || uncappedChunk(c) {
				// Streamed to disk and bounded by the folder quota,
				// not by memory: no body cap.
				return next(c)
			}
			if isUpload(c) {
				n = uploadMaxBody
			}
			if r.ContentLength > n {
				return fmt.Errorf("the request body is larger than %d bytes: %w", n, errdefs.ErrTooLarge)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}
