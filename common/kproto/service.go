package kproto

import (
	"io"
	"net"
)

// ProxySocket is the runner's relay socket in the ipc directory. The agent
// connects, writes the target port as a decimal line ("7681\n"), and the
// runner answers one line: "ok\n" once it has connected to
// 127.0.0.1:<port> inside the container (after which the connection carries
// the raw bytes both ways), or "error <reason>\n" before closing. Sessions
// have no network, so this is the only way into an in-container service.
const ProxySocket = "proxy.sock"

// StartService is the payload of OpStartService.
type StartService struct {
	App       string            `json:"app"`
	Protocol  string            `json:"protocol"`
	Port      int               `json:"port"`
	Envs      map[string]string `json:"envs,omitempty"`
	Arguments map[string]any    `json:"arguments,omitempty"`
}

// ServiceResult is the payload of OpServiceResult.
type ServiceResult struct {
	App string `json:"app"`
	// Status is "started" (also when it already ran), "stopped" (the
	// answer to shutdown-service, also when it was not running) or
	// "failed".
	Status string `json:"status"`
	Port   int    `json:"port,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Apps is the payload of OpAppsResult.
type Apps struct {
	Running []string `json:"running"`
}

// Pipe carries the bytes of a relayed connection: it copies a ⇄ b until both
// directions end, half-closing each side when the other stops sending so a
// reply still in flight is delivered. The agent and the runner each join
// their two ends of the relay with it.
func Pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
