package jupyter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter"
	"baigo.dev/bai/internal/servertest"
)

// lockedBuffer collects the kernel's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// frontEnd is a minimal Jupyter client on real ZeroMQ sockets.
type frontEnd struct {
	t      *testing.T
	signer *jupyter.Signer
	shell  zmq4.Socket
	ctrl   zmq4.Socket
	stdin  zmq4.Socket
	iopub  zmq4.Socket
	hb     zmq4.Socket
	shellQ chan *jupyter.Message
	ctrlQ  chan *jupyter.Message
	stdinQ chan *jupyter.Message
	iopubQ chan *jupyter.Message
}

func dialFrontEnd(t *testing.T, ci jupyter.ConnectionInfo) *frontEnd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	signer, _ := jupyter.NewSigner(ci.SignatureScheme, ci.Key)
	id := zmq4.WithID(zmq4.SocketIdentity("front-end-1"))
	fe := &frontEnd{
		t: t, signer: signer,
		shell: zmq4.NewDealer(ctx, id), ctrl: zmq4.NewDealer(ctx, id), stdin: zmq4.NewDealer(ctx, id),
		iopub: zmq4.NewSub(ctx), hb: zmq4.NewReq(ctx),
		shellQ: make(chan *jupyter.Message, 64), ctrlQ: make(chan *jupyter.Message, 64),
		stdinQ: make(chan *jupyter.Message, 64), iopubQ: make(chan *jupyter.Message, 256),
	}
	for _, c := range []struct {
		s    zmq4.Socket
		port int
		q    chan *jupyter.Message
	}{{fe.shell, ci.ShellPort, fe.shellQ}, {fe.ctrl, ci.ControlPort, fe.ctrlQ}, {fe.stdin, ci.StdinPort, fe.stdinQ}, {fe.iopub, ci.IOPubPort, fe.iopubQ}, {fe.hb, ci.HBPort, nil}} {
		if err := c.s.Dial(ci.Endpoint(c.port)); err != nil {
			t.Fatalf("dial %s: %v", ci.Endpoint(c.port), err)
		}
		t.Cleanup(func() { _ = c.s.Close() })
		if c.q == nil {
			continue
		}
		go func(s zmq4.Socket, q chan *jupyter.Message) {
			for {
				zm, err := s.Recv()
				if err != nil {
					return
				}
				m, err := jupyter.Decode(zm.Frames, signer)
				if err != nil {
					t.Errorf("the kernel sent a message we cannot verify: %v", err)
					continue
				}
				q <- m
			}
		}(c.s, c.q)
	}
	if err := fe.iopub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	return fe
}

// send sends a request signed with signer (the connection's, or another
// to test refusal) and returns its msg_id.
func (fe *frontEnd) send(s zmq4.Socket, signer *jupyter.Signer, msgType string, content any) string {
	fe.t.Helper()
	m, err := jupyter.NewMessage("front-end-session", msgType, nil, nil, content)
	if err != nil {
		fe.t.Fatal(err)
	}
	if err := s.SendMulti(zmq4.NewMsgFrom(m.Encode(signer)...)); err != nil {
		fe.t.Fatal(err)
	}
	return m.Header.MsgID
}

// next returns the next message on q answering msgID (others are
// skipped), or nil after limit.
func (fe *frontEnd) next(q chan *jupyter.Message, msgID string, limit time.Duration) *jupyter.Message {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case m := <-q:
			var parent jupyter.Header
			_ = json.Unmarshal(m.ParentHeader, &parent)
			if parent.MsgID == msgID {
				return m
			}
		case <-timer.C:
			return nil
		}
	}
}

// iopubUntilIdle returns the iopub messages answering msgID up to its idle
// status.
func (fe *frontEnd) iopubUntilIdle(msgID string) []*jupyter.Message {
	fe.t.Helper()
	var out []*jupyter.Message
	for {
		m := fe.next(fe.iopubQ, msgID, 30*time.Second)
		if m == nil {
			fe.t.Fatalf("no idle status for %s; got %d messages", msgID, len(out))
		}
		out = append(out, m)
		var c map[string]any
		_ = json.Unmarshal(m.Content, &c)
		if m.Header.MsgType == "status" && c["execution_state"] == "idle" {
			return out
		}
	}
}

func content(t *testing.T, m *jupyter.Message) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(m.Content, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKernel drives a Kernel over real ZeroMQ sockets against a real
// manager and agent (process runtime, real runner and Python): signature
// checks, kernel_info, execution with its iopub traffic, errors, input,
// heartbeat, and the session's end at shutdown_request.
func TestKernel(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t, servertest.Options{Agent: true})
	api, err := client.New(client.Config{Endpoint: srv.URL, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ci := jupyter.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", Key: "a-connection-key", SignatureScheme: "hmac-sha256",
		ShellPort: freePort(t), IOPubPort: freePort(t), StdinPort: freePort(t), ControlPort: freePort(t), HBPort: freePort(t)}
	logs := &lockedBuffer{}
	k, err := jupyter.New(jupyter.Config{Conn: ci, KernelID: "kt-1", Image: "python", API: api,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- k.Run(context.Background()) }()
	t.Cleanup(func() {
		select {
		case <-runDone:
		default:
			t.Error("the kernel was still running at the end of the test")
		}
	})
	fe := dialFrontEnd(t, ci)

	// Until the SUB is subscribed nothing reaches it, so ask for
	// kernel_info until a status arrives, as jupyter_client does.
	var info *jupyter.Message
	for deadline := time.Now().Add(20 * time.Second); info == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no kernel_info_reply with iopub traffic; log:\n%s", logs)
		}
		id := fe.send(fe.shell, fe.signer, "kernel_info_request", map[string]any{})
		if r := fe.next(fe.shellQ, id, 2*time.Second); r != nil && fe.next(fe.iopubQ, id, 500*time.Millisecond) != nil {
			info = r
		}
	}
	ic := content(t, info)
	li, _ := ic["language_info"].(map[string]any)
	if ic["protocol_version"] != "5.3" || ic["implementation"] != "bai" || li["name"] != "python" || li["file_extension"] != ".py" {
		t.Fatalf("kernel_info_reply %v", ic)
	}

	t.Run("bad signature is refused", func(t *testing.T) {
		other, _ := jupyter.NewSigner("hmac-sha256", "not-the-key")
		id := fe.send(fe.shell, other, "kernel_info_request", map[string]any{})
		if r := fe.next(fe.shellQ, id, time.Second); r != nil {
			t.Fatalf("the kernel answered a badly signed request: %s", r.Content)
		}
		if !strings.Contains(logs.String(), "refused message") {
			t.Fatalf("no log line about the refused message:\n%s", logs)
		}
		if strings.Contains(logs.String(), ci.Key) {
			t.Fatal("the connection key is in the log")
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		if err := fe.hb.Send(zmq4.NewMsgString("ping-1")); err != nil {
			t.Fatal(err)
		}
		m, err := fe.hb.Recv()
		if err != nil || string(m.Bytes()) != "ping-1" {
			t.Fatalf("heartbeat answer %q, %v", m.Bytes(), err)
		}
	})

	execute := func(t *testing.T, code string, allowStdin bool) (*jupyter.Message, []*jupyter.Message) {
		t.Helper()
		id := fe.send(fe.shell, fe.signer, "execute_request", map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": allowStdin, "stop_on_error": true})
		reply := fe.next(fe.shellQ, id, 60*time.Second)
		if reply == nil {
			t.Fatalf("no execute_reply; log:\n%s", logs)
		}
		return reply, fe.iopubUntilIdle(id)
	}

	t.Run("execute", func(t *testing.T) {
		reply, pub := execute(t, "print('hi')\nx = 41", false)
		if rc := content(t, reply); rc["status"] != "ok" || rc["execution_count"] != 1.0 {
			t.Fatalf("execute_reply %v", rc)
		}
		var kinds []string
		for _, m := range pub {
			kinds = append(kinds, m.Header.MsgType)
		}
		if strings.Join(kinds, " ") != "status execute_input stream status" {
			t.Fatalf("iopub %v", kinds)
		}
		if c := content(t, pub[2]); c["name"] != "stdout" || c["text"] != "hi\n" {
			t.Fatalf("stream %v", c)
		}
		reply, _ = execute(t, "print(x + 1)", false)
		if rc := content(t, reply); rc["execution_count"] != 2.0 {
			t.Fatalf("second execute_reply %v", rc)
		}
	})

	t.Run("error", func(t *testing.T) {
		reply, pub := execute(t, "1/0", false)
		rc := content(t, reply)
		if rc["status"] != "error" || rc["ename"] != "ZeroDivisionError" || rc["evalue"] != "division by zero" {
			t.Fatalf("execute_reply %v", rc)
		}
		var errs int
		for _, m := range pub {
			switch m.Header.MsgType {
			case "error":
				errs++
			case "stream":
				t.Errorf("the traceback also went out as a stream: %s", m.Content)
			}
		}
		if errs != 1 {
			t.Fatalf("%d error messages, want 1", errs)
		}
	})

	t.Run("input", func(t *testing.T) {
		id := fe.send(fe.shell, fe.signer, "execute_request", map[string]any{"code": "print('got', input('? '))", "allow_stdin": true})
		req := fe.next(fe.stdinQ, id, 30*time.Second)
		if req == nil || req.Header.MsgType != "input_request" {
			t.Fatalf("no input_request; log:\n%s", logs)
		}
		fe.send(fe.stdin, fe.signer, "input_reply", map[string]any{"value": "carrot"})
		if r := fe.next(fe.shellQ, id, 30*time.Second); r == nil || content(t, r)["status"] != "ok" {
			t.Fatalf("execute_reply %v", r)
		}
		var out string
		for _, m := range fe.iopubUntilIdle(id) {
			if m.Header.MsgType == "stream" {
				out += content(t, m)["text"].(string)
			}
		}
		if out != "? got carrot\n" {
			t.Fatalf("output %q", out)
		}
	})

	t.Run("is_complete and complete", func(t *testing.T) {
		id := fe.send(fe.shell, fe.signer, "is_complete_request", map[string]any{"code": "for i in x:"})
		if r := fe.next(fe.shellQ, id, 10*time.Second); r == nil || content(t, r)["status"] != "incomplete" || content(t, r)["indent"] != "    " {
			t.Fatalf("is_complete_reply %v", r)
		}
		id = fe.send(fe.shell, fe.signer, "complete_request", map[string]any{"code": "y = pri", "cursor_pos": 7})
		r := fe.next(fe.shellQ, id, 10*time.Second)
		if r == nil {
			t.Fatal("no complete_reply")
		}
		c := content(t, r)
		if m, _ := json.Marshal(c["matches"]); string(m) != `["print"]` || c["cursor_start"] != 4.0 || c["cursor_end"] != 7.0 {
			t.Fatalf("complete_reply %v", c)
		}
	})

	t.Run("shutdown destroys the session", func(t *testing.T) {
		id := fe.send(fe.ctrl, fe.signer, "shutdown_request", map[string]any{"restart": false})
		r := fe.next(fe.ctrlQ, id, 30*time.Second)
		if r == nil || content(t, r)["status"] != "ok" {
			t.Fatalf("shutdown_reply %v", r)
		}
		select {
		case err := <-runDone:
			runDone <- err
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after shutdown")
		}
		info, err := api.GetSession(context.Background(), k.SessionName())
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatal(err)
		}
		if err == nil && info.Status != "TERMINATED" {
			t.Fatalf("session %s is %s after shutdown", k.SessionName(), info.Status)
		}
	})
}
