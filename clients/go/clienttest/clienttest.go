// Package clienttest provides a fake Backend.AI manager for tests of the Go
// SDK and of programs built on it (the bai CLI, integrations). It serves the
// session, execute and image routes of API.md with canned shapes, keeps
// sessions in memory, records every request, and verifies each request's
// HMAC signature with its own implementation of API.md's rules (it does not
// call common/sign), so a signing bug in the SDK cannot hide behind the
// same bug on the verifying side.
package clienttest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"baigo.dev/bai/common/apitypes"
)

// Keypair used by every fake server.
const (
	AccessKey = "AKIATESTTESTTESTTEST"
	SecretKey = "testsecrettestsecrettestsecrettestsecre0"
	Version   = "v6.20220315"
)

// Request is one request as the fake server received it.
type Request struct {
	Method    string
	PathQuery string
	Header    http.Header
	Body      []byte
}

// ExecFunc answers one execute request for a session; tests install one to
// script a run.
type ExecFunc func(session string, req apitypes.Execute) apitypes.ExecuteResult

// Server is the fake manager.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
	sessions map[string]*apitypes.SessionInfo // by name
	images   []apitypes.ImageInfo
	exec     ExecFunc
	counter  int
	sigErrs  []string
}

// New starts a fake manager that is closed when the test ends. By default it
// knows the images python:3.11-debian (alias python) and c:gcc12-debian
// (alias c), and its execute handler echoes the code to stdout.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		sessions: map[string]*apitypes.SessionInfo{},
		images: []apitypes.ImageInfo{
			{Name: "python:3.11-debian", Aliases: []string{"python", "python3"}, RuntimeType: "python", MinResources: map[string]string{"cpu": "1", "mem": "256m"}},
			{Name: "c:gcc12-debian", Aliases: []string{"c", "gcc"}, RuntimeType: "c", MinResources: map[string]string{"cpu": "1", "mem": "256m"}},
		},
		exec: func(_ string, req apitypes.Execute) apitypes.ExecuteResult {
			zero := 0
			return apitypes.ExecuteResult{RunID: req.RunID, Status: apitypes.RunFinished, ExitCode: &zero,
				Console: [][2]any{{"stdout", req.Code}}, Options: map[string]any{}, Files: []any{}}
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serverInfo)
	mux.HandleFunc("POST /session", s.signed(s.create))
	mux.HandleFunc("GET /session", s.signed(s.list))
	mux.HandleFunc("GET /session/{name}", s.signed(s.info))
	mux.HandleFunc("DELETE /session/{name}", s.signed(s.destroy))
	mux.HandleFunc("PATCH /session/{name}", s.signed(s.noContent))
	mux.HandleFunc("POST /session/{name}", s.signed(s.execute))
	mux.HandleFunc("POST /session/{name}/interrupt", s.signed(s.noContent))
	mux.HandleFunc("GET /session/{name}/logs", s.signed(s.logs))
	mux.HandleFunc("POST /session/{name}/complete", s.signed(s.complete))
	mux.HandleFunc("GET /images", s.signed(s.listImages))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.sigErrs {
			t.Errorf("fake manager rejected a signature: %s", e)
		}
	})
	return s
}

// Env returns a getenv function that points a client at this server with
// the test keypair.
func (s *Server) Env() func(string) string {
	env := map[string]string{
		"BACKEND_ENDPOINT":   s.URL,
		"BACKEND_ACCESS_KEY": AccessKey,
		"BACKEND_SECRET_KEY": SecretKey,
	}
	return func(k string) string { return env[k] }
}

// SetExec installs the execute handler.
func (s *Server) SetExec(f ExecFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exec = f
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Session returns the session of that name, or nil.
func (s *Server) Session(name string) *apitypes.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if si, ok := s.sessions[name]; ok {
		c := *si
		return &c
	}
	return nil
}

// AddSession stores a session as if it had been created.
func (s *Server) AddSession(si apitypes.SessionInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := si
	s.sessions[si.SessionName] = &c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, slug, title, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apitypes.Problem{Type: apitypes.ProblemTypeBase + slug, Title: title, Msg: msg})
}

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	s.record(r, nil)
	writeJSON(w, http.StatusOK, apitypes.ServerInfo{Version: Version, Manager: "fake"})
}

func (s *Server) record(r *http.Request, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, PathQuery: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
}

var (
	authRe = regexp.MustCompile(`^BackendAI signMethod=HMAC-SHA256, credential=([A-Za-z0-9]+):([0-9a-f]{64})$`)
	// The SDK must send Python's isoformat(): microseconds and +00:00.
	dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$`)
)

// verify checks the signature of r over body following API.md.
func verify(r *http.Request, body []byte) error {
	m := authRe.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("malformed Authorization %q", r.Header.Get("Authorization"))
	}
	if m[1] != AccessKey {
		return fmt.Errorf("unknown access key %q", m[1])
	}
	version := r.Header.Get("X-BackendAI-Version")
	if version != Version {
		return fmt.Errorf("version header %q, want %q", version, Version)
	}
	date := r.Header.Get("X-BackendAI-Date")
	if !dateRe.MatchString(date) {
		return fmt.Errorf("date header %q is not like 2026-11-27T06:48:23.126693+00:00", date)
	}
	d, err := time.Parse("2006-01-02T15:04:05.999999-07:00", date)
	if err != nil {
		return fmt.Errorf("date header %q: %v", date, err)
	}
	if skew := time.Since(d); skew > 15*time.Minute || skew < -15*time.Minute {
		return fmt.Errorf("date %s is %s off", date, skew)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	if len(body) > 0 && ct != "application/json" {
		return fmt.Errorf("JSON body sent with Content-Type %q", ct)
	}
	// v4.20181215 and newer sign the hash of an empty body.
	emptyHash := sha256.Sum256(nil)
	toSign := r.Method + "\n" + r.URL.RequestURI() + "\n" + date + "\n" +
		"host:" + r.Host + "\n" + "content-type:" + strings.ToLower(ct) + "\n" +
		"x-backendai-version:" + version + "\n" + hex.EncodeToString(emptyHash[:])
	h := func(key []byte, msg string) []byte {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msg))
		return mac.Sum(nil)
	}
	key := h(h([]byte(SecretKey), d.UTC().Format("20060102")), r.Host)
	want := hex.EncodeToString(h(key, toSign))
	if !hmac.Equal([]byte(want), []byte(m[2])) {
		return fmt.Errorf("signature mismatch for %s %s (string to sign %q)", r.Method, r.URL.RequestURI(), toSign)
	}
	return nil
}

// signed wraps a handler with body reading, recording and signature checks.
func (s *Server) signed(next func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.record(r, body)
		if err := verify(r, body); err != nil {
			if r.Header.Get("Authorization") != "" && strings.Contains(r.Header.Get("Authorization"), AccessKey) {
				s.mu.Lock()
				s.sigErrs = append(s.sigErrs, err.Error())
				s.mu.Unlock()
			}
			problem(w, http.StatusUnauthorized, "auth-failed", "Authentication failed.", err.Error())
			return
		}
		next(w, r, body)
	}
}

func (s *Server) findImage(name string) (apitypes.ImageInfo, bool) {
	for _, im := range s.images {
		if im.Name == name {
			return im, true
		}
		for _, a := range im.Aliases {
			if a == name {
				return im, true
			}
		}
	}
	return apitypes.ImageInfo{}, false
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, body []byte) {
	var req apitypes.CreateSession
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "invalid-api-params", "Missing or invalid API parameters.", err.Error())
		return
	}
	image := req.Image
	if image == "" {
		image = req.Lang
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	im, ok := s.findImage(image)
	if !ok {
		var names []string
		for _, im := range s.images {
			names = append(names, im.Name+" ("+strings.Join(im.Aliases, ", ")+")")
		}
		problem(w, http.StatusBadRequest, "invalid-api-params", "Missing or invalid API parameters.",
			fmt.Sprintf("unknown image %q; available images: %s", image, strings.Join(names, "; ")))
		return
	}
	name := req.Name
	if name == "" {
		name = req.ClientSessionToken
	}
	if si, ok := s.sessions[name]; ok && (req.ReuseIfExists == nil || *req.ReuseIfExists) {
		writeJSON(w, http.StatusOK, apitypes.CreateSessionResult{SessionID: si.SessionID, SessionName: name, Status: si.Status, ServicePorts: []apitypes.ServicePort{}})
		return
	} else if ok {
		problem(w, http.StatusConflict, "session-already-exists", "The session already exists.", name)
		return
	}
	s.counter++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.counter)
	if name == "" {
		name = fmt.Sprintf("sess-%d", s.counter)
	}
	s.sessions[name] = &apitypes.SessionInfo{
		SessionID: id, SessionName: name, Image: im.Name, Lang: im.Name, Type: "interactive",
		Status: "RUNNING", OwnerAccessKey: AccessKey, Domain: "default", Group: "default",
		ResourceSlots: map[string]string{"cpu": "1", "mem": "268435456"},
		OccupiedSlots: map[string]string{"cpu": "1", "mem": "268435456"},
		Created:       time.Now().UTC(), Age: 0,
	}
	writeJSON(w, http.StatusCreated, apitypes.CreateSessionResult{SessionID: id, SessionName: name, Status: "RUNNING", ServicePorts: []apitypes.ServicePort{}, Created: true})
}

// lookup finds a session by name or id; the caller holds s.mu.
func (s *Server) lookup(key string) *apitypes.SessionInfo {
	if si, ok := s.sessions[key]; ok {
		return si
	}
	for _, si := range s.sessions {
		if si.SessionID == key {
			return si
		}
	}
	return nil
}

func (s *Server) withSession(w http.ResponseWriter, r *http.Request, f func(si *apitypes.SessionInfo)) {
	name := r.PathValue("name")
	s.mu.Lock()
	si := s.lookup(name)
	s.mu.Unlock()
	if si == nil {
		problem(w, http.StatusNotFound, "session-not-found", "No such session.", fmt.Sprintf("session %q not found", name))
		return
	}
	f(si)
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request, _ []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := apitypes.SessionList{Items: []apitypes.SessionInfo{}}
	for _, si := range s.sessions {
		out.Items = append(out.Items, *si)
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].SessionName < out.Items[j].SessionName })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.withSession(w, r, func(si *apitypes.SessionInfo) {
		s.mu.Lock()
		c := *si
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, c)
	})
}

func (s *Server) destroy(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.withSession(w, r, func(si *apitypes.SessionInfo) {
		s.mu.Lock()
		delete(s.sessions, si.SessionName)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, apitypes.DestroyResult{Stats: map[string]any{"cpu_used": 12.5}})
	})
}

func (s *Server) noContent(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.withSession(w, r, func(*apitypes.SessionInfo) { w.WriteHeader(http.StatusNoContent) })
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request, body []byte) {
	s.withSession(w, r, func(si *apitypes.SessionInfo) {
		var req apitypes.Execute
		if err := json.Unmarshal(body, &req); err != nil {
			problem(w, http.StatusBadRequest, "invalid-api-params", "Missing or invalid API parameters.", err.Error())
			return
		}
		s.mu.Lock()
		f := s.exec
		s.mu.Unlock()
		res := f(si.SessionName, req)
		if res.RunID == "" {
			res.RunID = req.RunID
		}
		writeJSON(w, http.StatusOK, apitypes.ExecuteResponse{Result: res})
	})
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.withSession(w, r, func(si *apitypes.SessionInfo) {
		var out apitypes.LogsResult
		out.Result.Logs = "log line of " + si.SessionName + "\n"
		writeJSON(w, http.StatusOK, out)
	})
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, body []byte) {
	s.withSession(w, r, func(*apitypes.SessionInfo) {
		var req apitypes.Complete
		_ = json.Unmarshal(body, &req)
		writeJSON(w, http.StatusOK, apitypes.CompleteResult{Result: []any{req.Code + "_completed"}})
	})
}

func (s *Server) listImages(w http.ResponseWriter, _ *http.Request, _ []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, apitypes.ImageList{Items: s.images})
}
