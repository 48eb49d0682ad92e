// Package server wires the manager together: database, session service,
// HTTP API and background loops. main builds a config and calls New and Run.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/agentrpc"
	"baigo.dev/bai/backend/api"
	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/metrics"
	"baigo.dev/bai/backend/session"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/backend/vfolder"
	"baigo.dev/bai/backend/webauth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/user"
	"baigo.dev/bai/web"
)

// Server is a running manager.
type Server struct {
	Cfg      config.Config
	Store    *store.Store
	Sessions *session.Service
	Metrics  *metrics.Metrics
	relay    *events.Relay
	api      *api.Handlers
	Web      *webauth.Service
	Echo     *echo.Echo
	log      *slog.Logger
	ln       net.Listener
}

// New opens the database and builds the manager. It listens right away, so
// Addr is known before Run (tests bind ":0").
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	cfg.Defaults()
	if cfg.DatabaseURL == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("set a database URL or a data directory")
		}
		cfg.DatabaseURL = filepath.Join(cfg.DataDir, "bai.db")
	}
	if cfg.ClusterSecret == "" {
		return nil, errors.New("the cluster secret must not be empty")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	bus := events.NewBus()
	met := metrics.New(st)
	svc := session.New(st, agentrpc.New(cfg.ClusterSecret), bus, cfg, log)
	svc.SetHooks(session.Hooks{SchedulingRound: met.ObserveSchedulingRound, Heartbeat: met.Heartbeat})
	var relay *events.Relay
	if st.Dialect == "postgres" {
		// Several managers may share this database: relay events through it.
		relay = events.NewRelay(bus, st.DB, st.DSN, log)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = api.ErrorHandler(log)
	e.Pre(api.StripLegacyPrefix)
	e.Use(met.Middleware)
	// Unauthenticated, as Prometheus expects; it carries no tenant data.
	e.GET("/metrics", echo.WrapHandler(met.Handler()))
	e.Use(api.LimitBody(cfg.MaxBodyBytes))
	h := &api.Handlers{Cfg: cfg, Keys: auth.NewKeys(st, 10*time.Second), Limiter: auth.NewRateLimiter(nil), Sessions: svc, Log: log}
	if root := cfg.VFolderRoot; root != "" || cfg.DataDir != "" {
		if root == "" {
			root = filepath.Join(cfg.DataDir, "vfolders")
		}
		vf, err := vfolder.New(st, root)
		if err != nil {
			st.Close()
			return nil, err
		}
		h.VFolders = vf
		svc.SetMountResolver(vf.Mounts)
	}
	wa := webauth.New(webauth.Options{Config: cfg, Store: st, Keys: h.Keys, Log: log,
		Policy: func(ctx context.Context, name string) (apitypes.PolicyInfo, error) {
			ps, err := svc.Policies(ctx)
			if err != nil {
				return apitypes.PolicyInfo{}, err
			}
			for _, p := range ps {
				if p.Name == name {
					return p, nil
				}
			}
			return apitypes.PolicyInfo{Name: name}, nil
		}})
	h.Web = wa
	h.Register(e)
	wa.Register(e)
	// Last: the app's catch-all answers what no API route claims.
	dist, _ := web.Dist()
	webauth.NewApp(dist).Register(e)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	return &Server{Cfg: cfg, Store: st, Sessions: svc, Metrics: met, relay: relay, Echo: e, log: log, ln: ln, api: h, Web: wa}, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if s.relay != nil {
		go s.relay.Run(ctx)
		select { // subscribe before serving, so no event of a request is missed
		case <-s.relay.Ready():
		case <-time.After(5 * time.Second):
			s.log.Warn("event relay is not listening yet; events from other managers may be missed until it is")
		}
	}
	go s.Sessions.Run(ctx)
	go s.Sessions.WatchAgents(ctx)
	go s.Sessions.Cull(ctx, s.Cfg.CullInterval)
	go s.Sessions.Scale(ctx, s.Cfg.CullInterval)
	go s.Web.Run(ctx, time.Minute)
	if s.api.VFolders != nil {
		go s.api.VFolders.SweepUploadsEvery(ctx, time.Hour, s.log)
	}
	srv := &http.Server{Handler: s.Echo, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)} // net/http's own messages too
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	s.log.Info("manager listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.api.CloseStreams()
	_ = srv.Shutdown(sctx)
	return s.Store.Close()
}

// Credentials is a keypair as written to credentials.json.
type Credentials struct {
	Endpoint  string `json:"endpoint"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// Bootstrap makes sure a default resource policy and a superadmin with a
// keypair exist. It returns the superadmin's first keypair and whether it
// was created now.
func (s *Server) Bootstrap(ctx context.Context) (Credentials, bool, error) {
	if _, err := s.Store.ResourcePolicy.Get(ctx, "default"); err != nil {
		if err := s.Store.ResourcePolicy.Create().SetID("default").SetTotalResourceSlots(map[string]float64{}).
			OnConflictColumns("name").Ignore().Exec(ctx); err != nil {
			return Credentials{}, false, fmt.Errorf("create default policy: %w", err)
		}
	}
	if err := s.Sessions.EnsureGroup(ctx, session.DefaultGroup); err != nil {
		return Credentials{}, false, fmt.Errorf("create default scaling group: %w", err)
	}
	// The oldest superadmin is the bootstrap one: OIDC sign-ins may have
	// made others since, whose keypairs must not land in credentials.json.
	admin, err := s.Store.User.Query().Where(user.RoleEQ(user.RoleSuperadmin)).Order(user.ByCreatedAt()).First(ctx)
	created := false
	if err != nil {
		admin, err = s.Store.User.Create().SetEmail("admin@localhost").SetUsername("admin").SetRole(user.RoleSuperadmin).Save(ctx)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("create superadmin: %w", err)
		}
	}
	kp, err := s.Store.KeyPair.Query().Where(keypair.HasUserWith(user.IDEQ(admin.ID)), keypair.IsActive(true)).Order(keypair.ByCreatedAt()).First(ctx)
	if err != nil {
		kp, err = s.Store.KeyPair.Create().SetID(auth.NewAccessKey()).SetSecretKey(auth.NewSecretKey()).
			SetIsAdmin(true).SetUser(admin).Save(ctx)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("create superadmin keypair: %w", err)
		}
		created = true
	}
	return Credentials{Endpoint: s.URL(), AccessKey: kp.ID, SecretKey: kp.SecretKey}, created, nil
}

// LoadOrCreateSecret reads a secret from path, creating a random one
// (owner-only permissions) when the file does not exist.
func LoadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	sec := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(sec+"\n"), 0o600); err != nil {
		return "", err
	}
	return sec, nil
}
