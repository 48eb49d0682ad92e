package cli

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// appGate guards the local port of a forwarded HTTP app. The port is on
// the user's machine, where other local users and any web page (through
// the browser, or DNS rebinding) can reach 127.0.0.1; the app behind it
// (a Notebook server, a shell) has no login of its own, because the
// manager's proxy already checked the keypair. So `bai app` prints a URL
// with a one-run secret: opening it sets a cookie for this port, and every
// connection must show that cookie in its first request, or it gets 403
// and never reaches the session.
type appGate struct {
	token  string
	cookie string // bai_app_<port>: cookies are per host, not per port
}

// tokenParam carries the secret in the printed URL.
const tokenParam = "bai_token"

// maxHead bounds the request head read before the gate decides.
const maxHead = 64 << 10

func newAppGate(port int) (*appGate, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &appGate{token: hex.EncodeToString(b), cookie: "bai_app_" + strconv.Itoa(port)}, nil
}

// admit reads the head of the connection's first request from br. It
// returns the head's bytes, to be forwarded unchanged, when the request
// carries the cookie; otherwise it answers the client itself (a redirect
// that sets the cookie for the token URL, 403 for anything else) and
// returns nil. Later requests on an admitted connection come from the same
// client and pass unchecked.
func (g *appGate) admit(w io.Writer, br *bufio.Reader) []byte {
	head, err := readHead(br)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			reply(w, "400 Bad Request", "text/plain; charset=utf-8", "", "bad request: "+err.Error()+"\n")
		}
		return nil
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		reply(w, "400 Bad Request", "text/plain; charset=utf-8", "", "bad request\n")
		return nil
	}
	q := req.URL.Query()
	if tok := q.Get(tokenParam); tok != "" {
		if !g.equal(tok) {
			g.refuse(w)
			return nil
		}
		q.Del(tokenParam)
		loc := req.URL.EscapedPath()
		if enc := q.Encode(); enc != "" {
			loc += "?" + enc
		}
		setCookie := fmt.Sprintf("Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict\r\nLocation: %s\r\n", g.cookie, g.token, loc)
		reply(w, "302 Found", "text/plain; charset=utf-8", setCookie, "")
		return nil
	}
	if c, err := req.Cookie(g.cookie); err == nil && g.equal(c.Value) {
		return head
	}
	g.refuse(w)
	return nil
}

func (g *appGate) equal(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(g.token)) == 1
}

func (g *appGate) refuse(w io.Writer) {
	reply(w, "403 Forbidden", "text/plain; charset=utf-8", "",
		"This port forwards an app of a bai session. Open it through the URL that `bai app` printed: "+
			"it carries a secret that lets this browser in.\n")
}

// reply writes a whole HTTP/1.1 answer and asks to close the connection.
func reply(w io.Writer, status, ctype, extra, body string) {
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %s\r\nContent-Type: %s\r\n%sContent-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n%s",
		status, ctype, extra, len(body), body)
}

// readHead reads a request's line and headers, through the empty line.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > maxHead {
			return nil, fmt.Errorf("request head over %d bytes", maxHead)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if len(head) == 0 {
				return nil, io.EOF
			}
			return nil, err
		}
		if bytes.Equal(line, []byte("\r\n")) || bytes.Equal(line, []byte("\n")) {
			return head, nil
		}
	}
}

// gatedConn is a local connection whose first request head the gate has
// read: reads return that head, then what is left in the buffer and on
// the connection.
type gatedConn struct {
	net.Conn
	r io.Reader
}

func (c *gatedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
