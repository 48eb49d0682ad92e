package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"baigo.dev/bai/common/kproto"
)

// proxyHeaderMax bounds the header line a relay connection starts with.
const proxyHeaderMax = 16

// listenProxy binds the relay socket (kproto.ProxySocket) in dir. Kernel
// containers have no network, so the agent reaches an in-container service
// (start-service) only through this socket: each connection names a port and
// is joined to a TCP connection to 127.0.0.1:<port>.
func listenProxy(dir string) (net.Listener, error) {
	p := filepath.Join(dir, kproto.ProxySocket)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", p, err)
	}
	return ln, nil
}

// serveProxy accepts relay connections until ln is closed.
func serveProxy(ctx context.Context, ln net.Listener, log *slog.Logger) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Warn("proxy socket", "err", err)
			}
			return
		}
		go relay(c, log)
	}
}

// relay serves one relay connection: a header line with the port, then the
// bytes both ways.
func relay(c net.Conn, log *slog.Logger) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, proxyHeaderMax)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	port, err := strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil || port < 1 || port > 65535 {
		_, _ = io.WriteString(c, "error bad port\n")
		return
	}
	t, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		_, _ = fmt.Fprintf(c, "error nothing listens on port %d in the session\n", port)
		return
	}
	defer t.Close()
	if _, err := io.WriteString(c, "ok\n"); err != nil {
		return
	}
	log.Debug("relay opened", "port", port)
	kproto.Pipe(bufConn{Conn: c, r: br}, t)
}

// bufConn reads through the buffered reader that took the header, so bytes
// that arrived with it are not lost.
type bufConn struct {
	net.Conn
	r io.Reader
}

func (b bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// CloseWrite half-closes the underlying connection when it can.
func (b bufConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return b.Conn.Close()
}
