package jupytergw_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/internal/servertest"
)

// newRealEnv starts a gateway in front of an in-process manager with a
// real agent (process runtime, the real runner and Python), so cells run
// in a real session over the execute stream.
func newRealEnv(t *testing.T) *env {
	t.Helper()
	srv := servertest.New(t, servertest.Options{Agent: true})
	c, err := client.New(client.Config{Endpoint: srv.URL, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{api: c}
	e.serve(t, c)
	t.Cleanup(func() {
		if err := e.gw.Shutdown(context.Background()); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
	})
	return e
}

// wsClient is a Jupyter frontend on the channels socket.
type wsClient struct {
	t       *testing.T
	ws      *websocket.Conn
	session string
	mu      sync.Mutex
}

type msg struct {
	Channel      string          `json:"channel"`
	Header       map[string]any  `json:"header"`
	ParentHeader map[string]any  `json:"parent_header"`
	MsgType      string          `json:"msg_type"`
	Content      json.RawMessage `json:"content"`
	at           time.Time       // when it was read
}

func (m msg) content() map[string]any {
	var c map[string]any
	_ = json.Unmarshal(m.Content, &c)
	return c
}

func (m msg) parentID() string { s, _ := m.ParentHeader["msg_id"].(string); return s }

func (e *env) dial(t *testing.T, kernelID string) *wsClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/kernels/" + kernelID + "/channels?token=" + token
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial channels: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return &wsClient{t: t, ws: ws, session: uuid.NewString()}
}

// send sends a request and returns its msg_id.
func (c *wsClient) send(channel, msgType string, content any) string {
	c.t.Helper()
	id := uuid.NewString()
	m := map[string]any{
		"channel": channel,
		"header": map[string]any{"msg_id": id, "msg_type": msgType, "session": c.session, "username": "test",
			"date": time.Now().UTC().Format(time.RFC3339Nano), "version": "5.3"},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "content": content, "buffers": []any{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *wsClient) read() msg {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m msg
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("read a message: %v", err)
	}
	m.at = time.Now()
	return m
}

// until reads the messages answering parent up to the one stop accepts.
func (c *wsClient) until(parent string, stop func(msg) bool) []msg {
	c.t.Helper()
	var out []msg
	for {
		m := c.read()
		if m.parentID() != parent {
			continue
		}
		out = append(out, m)
		if stop(m) {
			return out
		}
	}
}

func isIdle(m msg) bool {
	return m.Channel == "iopub" && m.MsgType == "status" && m.content()["execution_state"] == "idle"
}

// runCell executes code and returns everything up to the idle status,
// answering input requests with the given lines.
func (c *wsClient) runCell(code string, input ...string) []msg {
	c.t.Helper()
	id := c.send("shell", "execute_request", map[string]any{"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": true, "stop_on_error": true})
	var out []msg
	for {
		batch := c.until(id, func(m msg) bool { return isIdle(m) || m.MsgType == "input_request" })
		out = append(out, batch...)
		last := batch[len(batch)-1]
		if last.MsgType != "input_request" {
			return out
		}
		if len(input) == 0 {
			c.t.Fatalf("unexpected input_request for %q", code)
		}
		c.send("stdin", "input_reply", map[string]any{"value": input[0]})
		input = input[1:]
	}
}

// summary lists ms as channel:type plus what matters of each. Adjacent
// streams of one name are joined, as front ends show them: where output
// is cut between messages depends on timing (print writes the text and
// the newline apart).
func summary(ms []msg) []string {
	var s []string
	lastStream := ""
	for _, m := range ms {
		x := m.Channel + ":" + m.MsgType
		c := m.content()
		if m.MsgType != "stream" {
			lastStream = ""
		}
		switch m.MsgType {
		case "status":
			x += ":" + c["execution_state"].(string)
		case "stream":
			name, text := c["name"].(string), c["text"].(string)
			if lastStream == name {
				s[len(s)-1] += text
				continue
			}
			lastStream = name
			x += ":" + name + ":" + text
		case "execute_reply":
			x += ":" + c["status"].(string)
		case "error":
			x += ":" + c["ename"].(string) + ":" + c["evalue"].(string)
		case "display_data":
			for k := range c["data"].(map[string]any) {
				if k != "text/plain" {
					x += ":" + k
				}
			}
		}
		s = append(s, x)
	}
	return s
}

// stdout joins the stdout stream texts of ms.
func stdout(ms []msg) string {
	var b strings.Builder
	for _, m := range ms {
		if m.MsgType == "stream" && m.content()["name"] == "stdout" {
			b.WriteString(m.content()["text"].(string))
		}
	}
	return b.String()
}

func find(ms []msg, msgType string) []msg {
	var out []msg
	for _, m := range ms {
		if m.MsgType == msgType {
			out = append(out, m)
		}
	}
	return out
}

// TestChannelsRealSession runs cells through the channels socket in a
// real session: streamed output, display data, errors with the traceback
// held back from stderr, input, interrupts, completion, quick replies, the
// abort of queued cells after a failure, and shutdown_request.
func TestChannelsRealSession(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t)
	k := e.createKernel(t, `{"name":"bai-python"}`)
	c := e.dial(t, k.ID)

	id := c.send("shell", "kernel_info_request", map[string]any{})
	info := c.until(id, func(m msg) bool { return m.MsgType == "kernel_info_reply" })
	ir := info[len(info)-1]
	if li, _ := ir.content()["language_info"].(map[string]any); ir.Channel != "shell" || li["name"] != "python" || li["version"] != "3.11" {
		t.Errorf("kernel_info_reply %s on %s", ir.Content, ir.Channel)
	}

	t.Run("stream", func(t *testing.T) {
		c.t = t
		got := c.runCell("print(1+1)")
		want := []string{"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:2\n", "shell:execute_reply:ok", "iopub:status:idle"}
		if s := summary(got); strings.Join(s, "|") != strings.Join(want, "|") {
			t.Fatalf("messages\n%q\nwant\n%q", s, want)
		}
		if n := find(got, "execute_reply")[0].content()["execution_count"]; n != 1.0 {
			t.Errorf("execution_count %v, want 1", n)
		}
	})

	// Output reaches the socket as it is printed, not when a 2-second
	// long poll of the execute API returns: the second line comes about
	// the sleep after the first.
	t.Run("output streams while the cell runs", func(t *testing.T) {
		c.t = t
		got := c.runCell("import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')")
		var first, second time.Time
		for _, m := range find(got, "stream") {
			switch text := m.content()["text"].(string); {
			case strings.Contains(text, "first") && first.IsZero():
				first = m.at
			case strings.Contains(text, "second"):
				second = m.at
			}
		}
		if first.IsZero() || second.IsZero() {
			t.Fatalf("streams %q", summary(got))
		}
		if gap := second.Sub(first); gap < 2500*time.Millisecond {
			t.Errorf("the first line came only %s before the second: it waited for a poll instead of streaming", gap)
		}
	})

	t.Run("display data", func(t *testing.T) {
		c.t = t
		got := c.runCell("class Bold:\n    def _repr_html_(self):\n        return '<b>bold</b>'\nprint('before')\nBold()")
		want := []string{"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:before\n", "iopub:display_data:text/html",
			"shell:execute_reply:ok", "iopub:status:idle"}
		if s := summary(got); strings.Join(s, "|") != strings.Join(want, "|") {
			t.Fatalf("messages\n%q\nwant\n%q", s, want)
		}
	})

	t.Run("error", func(t *testing.T) {
		c.t = t
		got := c.runCell("import sys\nprint('warned', file=sys.stderr, flush=True)\nundefined_x")
		want := []string{"iopub:status:busy", "iopub:execute_input", "iopub:stream:stderr:warned\n",
			"iopub:error:NameError:name 'undefined_x' is not defined", "shell:execute_reply:error", "iopub:status:idle"}
		if s := summary(got); strings.Join(s, "|") != strings.Join(want, "|") {
			t.Fatalf("messages\n%q\nwant\n%q", s, want)
		}
		errMsg := find(got, "error")[0].content()
		if tb, _ := errMsg["traceback"].([]any); len(tb) < 2 || !strings.HasPrefix(tb[len(tb)-1].(string), "NameError") {
			t.Errorf("traceback %q", tb)
		}
		if r := find(got, "execute_reply")[0].content(); r["ename"] != "NameError" || r["execution_count"] != 4.0 {
			t.Errorf("execute_reply %v", r)
		}
	})

	t.Run("input", func(t *testing.T) {
		c.t = t
		got := c.runCell("print('hello', input('Name: '))", "bob")
		if len(find(got, "input_request")) != 1 || stdout(got) != "Name: hello bob\n" {
			t.Fatalf("messages %q", summary(got))
		}
		if r := find(got, "execute_reply")[0].content(); r["status"] != "ok" {
			t.Errorf("execute_reply %v", r)
		}
	})

	t.Run("interrupt while waiting for input", func(t *testing.T) {
		c.t = t
		id := c.send("shell", "execute_request", map[string]any{"code": "input()\nprint('not reached')", "allow_stdin": true})
		c.until(id, func(m msg) bool { return m.MsgType == "input_request" })
		iid := c.send("control", "interrupt_request", map[string]any{})
		var errMsg, intReply *msg
		var all []msg
		for errMsg == nil || intReply == nil {
			m := c.read()
			all = append(all, m)
			switch {
			case m.MsgType == "error" && m.parentID() == id:
				errMsg = &m
			case m.MsgType == "interrupt_reply" && m.parentID() == iid:
				intReply = &m
			}
		}
		if errMsg.content()["ename"] != "KeyboardInterrupt" || strings.Contains(stdout(all), "not reached") {
			t.Errorf("after the interrupt: %q", summary(all))
		}
		if intReply.Channel != "control" || intReply.content()["status"] != "ok" {
			t.Errorf("interrupt_reply %s on %s", intReply.Content, intReply.Channel)
		}
		c.until(id, isIdle)
	})

	t.Run("interrupt a running cell over REST", func(t *testing.T) {
		c.t = t
		id := c.send("shell", "execute_request", map[string]any{"code": "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\nprint('woke')"})
		c.until(id, func(m msg) bool {
			return m.MsgType == "stream" && strings.Contains(m.content()["text"].(string), "sleeping")
		})
		if status, b := e.call(t, http.MethodPost, "/api/kernels/"+k.ID+"/interrupt", "{}"); status != http.StatusNoContent {
			t.Fatalf("interrupt: %d %s", status, b)
		}
		got := c.until(id, isIdle)
		if errs := find(got, "error"); len(errs) != 1 || errs[0].content()["ename"] != "KeyboardInterrupt" || strings.Contains(stdout(got), "woke") {
			t.Errorf("after the interrupt: %q", summary(got))
		}
	})

	t.Run("complete", func(t *testing.T) {
		c.t = t
		c.runCell("import os")
		id := c.send("shell", "complete_request", map[string]any{"code": "x = os.pa", "cursor_pos": 9})
		got := c.until(id, func(m msg) bool { return m.MsgType == "complete_reply" })
		r := got[len(got)-1].content()
		ms, _ := r["matches"].([]any)
		if r["status"] != "ok" || len(ms) == 0 || r["cursor_start"] != 4.0 || r["cursor_end"] != 9.0 {
			t.Fatalf("complete_reply %v", r)
		}
		for _, m := range ms {
			if !strings.HasPrefix(m.(string), "os.pa") {
				t.Errorf("match %q does not replace os.pa", m)
			}
		}
	})

	t.Run("silent", func(t *testing.T) {
		c.t = t
		id := c.send("shell", "execute_request", map[string]any{"code": "print('quiet')", "silent": true})
		got := c.until(id, isIdle)
		want := []string{"iopub:status:busy", "shell:execute_reply:ok", "iopub:status:idle"}
		if s := summary(got); strings.Join(s, "|") != strings.Join(want, "|") {
			t.Errorf("messages\n%q\nwant\n%q", s, want)
		}
	})

	t.Run("quick replies", func(t *testing.T) {
		c.t = t
		tests := []struct {
			msgType string
			content map[string]any
			reply   string
			check   func(map[string]any) bool
		}{
			{"is_complete_request", map[string]any{"code": "for i in x:"}, "is_complete_reply",
				func(c map[string]any) bool { return c["status"] == "incomplete" && c["indent"] == "    " }},
			{"is_complete_request", map[string]any{"code": "print(1)"}, "is_complete_reply",
				func(c map[string]any) bool { return c["status"] == "complete" }},
			{"comm_info_request", map[string]any{}, "comm_info_reply",
				func(c map[string]any) bool { return c["status"] == "ok" && len(c["comms"].(map[string]any)) == 0 }},
		}
		for _, tc := range tests {
			id := c.send("shell", tc.msgType, tc.content)
			got := c.until(id, func(m msg) bool { return m.MsgType == tc.reply })
			if r := got[len(got)-1]; r.Channel != "shell" || !tc.check(r.content()) {
				t.Errorf("%s %v: %s on %s", tc.msgType, tc.content, r.Content, r.Channel)
			}
		}
	})

	// After a failed cell, the cells queued behind it are aborted, not run.
	t.Run("abort after error", func(t *testing.T) {
		c.t = t
		first := c.send("shell", "execute_request", map[string]any{"code": "import time\ntime.sleep(1)\nraise RuntimeError('boom')"})
		second := c.send("shell", "execute_request", map[string]any{"code": "print('never')"})
		got := c.until(first, func(m msg) bool { return m.MsgType == "execute_reply" })
		if r := got[len(got)-1].content(); r["status"] != "error" || r["ename"] != "RuntimeError" || r["evalue"] != "boom" {
			t.Errorf("first cell: %v", r)
		}
		got = c.until(second, isIdle)
		if r := find(got, "execute_reply"); len(r) != 1 || r[0].content()["status"] != "aborted" || stdout(got) != "" {
			t.Errorf("queued cell after a failure: %q, want aborted", summary(got))
		}
		if got := c.runCell("print('runs again')"); stdout(got) != "runs again\n" {
			t.Errorf("a cell after the aborted ones: %q", summary(got))
		}
	})

	t.Run("shutdown_request ends the kernel and its session", func(t *testing.T) {
		c.t = t
		id := c.send("control", "shutdown_request", map[string]any{"restart": false})
		got := c.until(id, func(m msg) bool { return m.MsgType == "shutdown_reply" && m.Channel == "control" })
		if got[len(got)-1].content()["status"] != "ok" {
			t.Errorf("shutdown_reply %s", got[len(got)-1].Content)
		}
		// The reply goes out before the session is destroyed.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			si, err := e.api.GetSession(t.Context(), "jgw-"+k.ID)
			if errors.Is(err, errdefs.ErrNotFound) || (err == nil && si.Status == "TERMINATED") {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the session is %s 30s after shutdown_request", si.Status)
			}
		}
		if status, _ := e.call(t, http.MethodGet, "/api/kernels/"+k.ID, ""); status != http.StatusNotFound {
			t.Errorf("GET after shutdown_request: %d, want 404", status)
		}
	})
}
