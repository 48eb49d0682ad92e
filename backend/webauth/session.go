package webauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/user"
	"baigo.dev/bai/ent/websession"
)

// Auth methods of a browser session.
const (
	MethodKeypair = "keypair"
	MethodOIDC    = "oidc"
)

// Me is the signed-in user as the app sees it (GET /auth/me).
type Me struct {
	Email     string `json:"email"`
	Username  string `json:"username"`
	Role      string `json:"role"` // superadmin, admin or user
	AccessKey string `json:"accessKey"`
	// CSRFToken goes into the X-CSRF-Token header of every request other
	// than GET, HEAD and OPTIONS.
	CSRFToken      string              `json:"csrfToken"`
	AuthMethod     string              `json:"authMethod"` // keypair or oidc
	ResourcePolicy apitypes.PolicyInfo `json:"resourcePolicy"`
}

// AuthConfig is what the sign-in page needs to know (GET /auth/config).
type AuthConfig struct {
	OIDC struct {
		Enabled bool   `json:"enabled"`
		Name    string `json:"name"`
	} `json:"oidc"`
	Version string `json:"version"`
}

var (
	errSessionEnded = fmt.Errorf("your browser session has ended (signed out, or idle or old for too long): sign in again: %w", errdefs.ErrUnauthenticated)
	errCSRF         = fmt.Errorf("missing or wrong CSRF token: reload the page: %w", errdefs.ErrPermissionDenied)
	errOrigin       = fmt.Errorf("a request with the session cookie came from another site (its Origin is not this server's): %w", errdefs.ErrPermissionDenied)
	errNoSession    = fmt.Errorf("not signed in: %w", errdefs.ErrUnauthenticated)
)

// Authenticate is the API's cookie authentication, for requests without an
// Authorization header. It returns nil, nil when r carries no session
// cookie (not a browser of the app); otherwise the session's keypair, or an
// error when the session has ended, the Origin is foreign, or a
// state-changing request lacks the CSRF token.
func (s *Service) Authenticate(c echo.Context) (*auth.KeyPair, error) {
	r := c.Request()
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	if !s.originAllowed(r) {
		return nil, errOrigin
	}
	ws, err := s.lookup(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	if !safeMethod(r.Method) && !equal(r.Header.Get(CSRFHeader), ws.CsrfToken) {
		return nil, errCSRF
	}
	kp, err := s.keys.Get(r.Context(), ws.AccessKey)
	if err != nil {
		if errors.Is(err, errdefs.ErrUnauthenticated) {
			return nil, fmt.Errorf("the keypair of your browser session was deactivated; ask an administrator: %w", errdefs.ErrUnauthenticated)
		}
		return nil, err
	}
	return kp, nil
}

// lookup returns the live browser session of a cookie value.
func (s *Service) lookup(ctx context.Context, cookie string) (*ent.WebSession, error) {
	ws, err := s.st.WebSession.Get(ctx, hashToken(cookie))
	if ent.IsNotFound(err) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(ws.ExpiresAt) || now.Sub(ws.LastSeen) >= s.cfg.SessionIdle {
		_ = s.st.WebSession.DeleteOneID(ws.ID).Exec(ctx)
		return nil, errSessionEnded
	}
	// Recording every request would be a database write per API call;
	// once a minute is precise enough for an idle timeout of hours.
	if now.Sub(ws.LastSeen) > time.Minute {
		if err := s.st.WebSession.UpdateOneID(ws.ID).SetLastSeen(now).Exec(ctx); err != nil && !ent.IsNotFound(err) {
			s.log.Warn("record browser session activity", "access_key", ws.AccessKey, "err", err)
		}
	}
	return ws, nil
}

// startSession records a new browser session for accessKey and sets its
// cookie on c's answer.
func (s *Service) startSession(c echo.Context, accessKey, method string) (*ent.WebSession, error) {
	cookie := randomToken()
	now := s.now()
	ws, err := s.st.WebSession.Create().SetID(hashToken(cookie)).SetAccessKey(accessKey).SetCsrfToken(randomToken()).
		SetAuthMethod(websession.AuthMethod(method)).SetCreatedAt(now).SetLastSeen(now).
		SetExpiresAt(now.Add(s.cfg.SessionLifetime)).Save(c.Request().Context())
	if err != nil {
		return nil, fmt.Errorf("record browser session: %w", err)
	}
	c.SetCookie(&http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(c.Request()), MaxAge: int(s.cfg.SessionLifetime.Seconds())})
	return ws, nil
}

func (s *Service) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(c.Request()), MaxAge: -1})
}

// current returns the request's live browser session (for /auth/me and
// /auth/logout, which only cookies reach).
func (s *Service) current(c echo.Context) (*ent.WebSession, error) {
	r := c.Request()
	if !s.originAllowed(r) {
		return nil, errOrigin
	}
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	return s.lookup(r.Context(), ck.Value)
}

func (s *Service) authConfig(c echo.Context) error {
	var out AuthConfig
	out.Version = s.version
	if s.oidc != nil {
		out.OIDC.Enabled, out.OIDC.Name = true, s.cfg.OIDC.Name
	}
	return c.JSON(http.StatusOK, out)
}

// login serves POST /auth/login: a keypair sign-in.
func (s *Service) login(c echo.Context) error {
	r := c.Request()
	addr := s.clientAddr(r)
	if s.fails.blocked(addr) {
		return fmt.Errorf("too many failed sign-ins from your address; wait a minute and try again: %w", errdefs.ErrRateLimited)
	}
	if !s.originAllowed(r) {
		return fmt.Errorf("sign-in from another site refused (its Origin is not this server's): %w", errdefs.ErrPermissionDenied)
	}
	var in struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return fmt.Errorf("the body must be JSON {\"accessKey\": ..., \"secretKey\": ...}: %w", errdefs.ErrInvalidArgument)
	}
	if in.AccessKey == "" || in.SecretKey == "" {
		return fmt.Errorf("enter an access key and a secret key: %w", errdefs.ErrInvalidArgument)
	}
	kp, err := s.st.KeyPair.Query().Where(keypair.IDEQ(in.AccessKey)).WithUser().Only(r.Context())
	if err != nil && !ent.IsNotFound(err) {
		return err
	}
	// One answer for an unknown key and a wrong secret, so the form does
	// not tell which access keys exist; the compare runs either way.
	stored := "unknown access key: no secret can match this"
	if kp != nil {
		stored = kp.SecretKey
	}
	if !equal(in.SecretKey, stored) || kp == nil {
		s.fails.add(addr)
		// Not the access key typed: people paste secrets into the wrong field.
		s.log.Info("keypair sign-in refused", "client", addr, "reason", "unknown access key or wrong secret key")
		return fmt.Errorf("wrong access key or secret key: %w", errdefs.ErrUnauthenticated)
	}
	if !kp.IsActive || kp.Edges.User == nil || !kp.Edges.User.IsActive {
		s.fails.add(addr)
		s.log.Info("keypair sign-in refused", "client", addr, "access_key", kp.ID, "reason", "deactivated")
		return fmt.Errorf("this keypair or its user is deactivated; ask an administrator: %w", errdefs.ErrUnauthenticated)
	}
	ws, err := s.startSession(c, kp.ID, MethodKeypair)
	if err != nil {
		return err
	}
	s.log.Info("browser signed in", "access_key", kp.ID, "method", MethodKeypair, "client", addr)
	me, err := s.describe(r.Context(), ws)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, me)
}

// me serves GET /auth/me.
func (s *Service) me(c echo.Context) error {
	ws, err := s.current(c)
	if err != nil {
		return err
	}
	me, err := s.describe(c.Request().Context(), ws)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, me)
}

// logout serves POST /auth/logout: the session ends here and everywhere.
func (s *Service) logout(c echo.Context) error {
	ws, err := s.current(c)
	if err != nil {
		s.clearCookie(c)
		return err
	}
	if !equal(c.Request().Header.Get(CSRFHeader), ws.CsrfToken) {
		return errCSRF
	}
	if err := s.st.WebSession.DeleteOneID(ws.ID).Exec(c.Request().Context()); err != nil && !ent.IsNotFound(err) {
		return err
	}
	s.clearCookie(c)
	s.log.Info("browser signed out", "access_key", ws.AccessKey)
	return c.NoContent(http.StatusNoContent)
}

// describe builds Me for a session.
func (s *Service) describe(ctx context.Context, ws *ent.WebSession) (*Me, error) {
	kp, err := s.st.KeyPair.Query().Where(keypair.IDEQ(ws.AccessKey)).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	u := kp.Edges.User
	if !kp.IsActive || u == nil || !u.IsActive {
		return nil, fmt.Errorf("the keypair of your browser session was deactivated; ask an administrator: %w", errdefs.ErrUnauthenticated)
	}
	me := &Me{Email: u.Email, Username: u.Username, Role: effectiveRole(u.Role, kp.IsAdmin), AccessKey: kp.ID,
		CSRFToken: ws.CsrfToken, AuthMethod: string(ws.AuthMethod)}
	if s.policy != nil {
		if me.ResourcePolicy, err = s.policy(ctx, kp.ResourcePolicy); err != nil {
			return nil, err
		}
	}
	return me, nil
}

// effectiveRole is the role the API grants: superadmin powers need the
// keypair's admin flag too (as auth.Keys decides), so a superadmin signed
// in with a plain keypair is shown as an admin.
func effectiveRole(r user.Role, keypairAdmin bool) string {
	if r == user.RoleSuperadmin && !keypairAdmin {
		return string(user.RoleAdmin)
	}
	return string(r)
}
