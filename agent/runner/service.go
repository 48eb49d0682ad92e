package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"time"

	"baigo.dev/bai/common/kproto"
)

// serviceWait bounds how long start-service waits for the app's port.
const serviceWait = 20 * time.Second

// apps maps an app name (from the image's ai.backend.service-ports label) to
// how the runner starts it on a port. The manager checks that the image
// declares the app; this table says which ones this runner can run.
var apps = map[string]func(r *runner, port int) (io.Closer, error){
	"terminal": func(r *runner, port int) (io.Closer, error) { return startTerminal(r.cfg, r.log, port) },
	"jupyter":  func(r *runner, port int) (io.Closer, error) { return startJupyter(r.cfg, r.log, port) },
}

// exiter is an app that can end on its own (a server process); one that
// has ended is started again by the next start-service.
type exiter interface{ Exited() bool }

// startService serves OpStartService. An app that already runs answers
// started again, so clients may call it before every connection.
func (r *runner) startService(payload []byte) kproto.ServiceResult {
	var req kproto.StartService
	if err := json.Unmarshal(payload, &req); err != nil {
		return kproto.ServiceResult{Status: "failed", Error: "bad start-service request: " + err.Error()}
	}
	res := kproto.ServiceResult{App: req.App, Port: req.Port}
	start, ok := apps[req.App]
	if !ok {
		res.Status, res.Error = "failed", fmt.Sprintf("this runner has no command for app %q", req.App)
		return res
	}
	if req.Port < 1 || req.Port > 65535 {
		res.Status, res.Error = "failed", fmt.Sprintf("bad port %d", req.Port)
		return res
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = map[string]io.Closer{}
	}
	if svc, ok := r.services[req.App]; ok {
		if e, ok := svc.(exiter); ok && e.Exited() {
			r.log.Info("service had exited; starting it again", "app", req.App)
			delete(r.services, req.App)
		}
	}
	if _, running := r.services[req.App]; !running {
		svc, err := start(r, req.Port)
		if err != nil {
			res.Status, res.Error = "failed", err.Error()
			return res
		}
		r.services[req.App] = svc
		r.log.Info("service started", "app", req.App, "port", req.Port)
	}
	if err := waitPort(req.Port, serviceWait); err != nil {
		res.Status, res.Error = "failed", err.Error()
		return res
	}
	res.Status = "started"
	return res
}

// shutdownService serves OpShutdownService: it stops a running app (its
// open connections end with it). Stopping an app that is not running
// answers "stopped" too, so the call is idempotent.
func (r *runner) shutdownService(payload []byte) kproto.ServiceResult {
	var req kproto.StartService
	if err := json.Unmarshal(payload, &req); err != nil {
		return kproto.ServiceResult{Status: "failed", Error: "bad shutdown-service request: " + err.Error()}
	}
	res := kproto.ServiceResult{App: req.App}
	if _, ok := apps[req.App]; !ok {
		res.Status, res.Error = "failed", fmt.Sprintf("this runner has no app %q", req.App)
		return res
	}
	r.mu.Lock()
	svc, ok := r.services[req.App]
	delete(r.services, req.App)
	r.mu.Unlock()
	if ok {
		if err := svc.Close(); err != nil {
			res.Status, res.Error = "failed", err.Error()
			return res
		}
		r.log.Info("service stopped", "app", req.App)
	}
	res.Status = "stopped"
	return res
}

// runningApps serves OpGetApps: the apps running now.
func (r *runner) runningApps() kproto.Apps {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := kproto.Apps{Running: []string{}}
	for name, svc := range r.services {
		if e, ok := svc.(exiter); ok && e.Exited() {
			continue
		}
		out.Running = append(out.Running, name)
	}
	sort.Strings(out.Running)
	return out
}

// waitPort waits until 127.0.0.1:port accepts a connection.
func waitPort(port int, limit time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(limit)
	delay := 10 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the app did not listen on port %d within %s", port, limit)
		}
		time.Sleep(delay)
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// closeServices stops the apps' listeners when the runner stops.
func (r *runner) closeServices() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, s := range r.services {
		_ = s.Close()
		delete(r.services, name)
	}
}
