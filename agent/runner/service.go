package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
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
}

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
