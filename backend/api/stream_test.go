package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/internal/servertest"
)

type frame struct {
	Status   string         `json:"status"`
	Console  [][2]any       `json:"console"`
	ExitCode *int           `json:"exitCode"`
	Options  map[string]any `json:"options"`
	Msg      string         `json:"msg"`
}

func TestExecuteStream(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "ws-1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	dial := func(t *testing.T, path string) (*websocket.Conn, int) {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+path, s.SignedHeader("GET", path))
		if err != nil {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			return nil, code
		}
		t.Cleanup(func() { ws.Close() })
		return ws, 101
	}
	if _, code := dial(t, "/stream/session/nosuch/execute"); code != 404 {
		t.Fatalf("unknown session: %d, want 404", code)
	}

	ws, _ := dial(t, "/stream/session/ws-1/execute")
	code := "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\nname = input('name? ')\nprint('hi', name)"
	if err := ws.WriteJSON(map[string]any{"mode": "query", "code": code}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var frames []frame
	for {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				break
			}
			t.Fatalf("read: %v (frames %+v)", err, frames)
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil || f.Status == "" {
			t.Fatalf("frame without status: %s", data)
		}
		frames = append(frames, f)
		for _, it := range f.Console {
			if it[0] == "stdout" {
				out.WriteString(it[1].(string))
			}
		}
		if f.Status == "waiting-input" {
			if f.Options == nil {
				t.Fatalf("waiting-input frame without options object: %+v", f)
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte("bai")); err != nil {
				t.Fatal(err)
			}
		}
		if f.Status == "finished" {
			if f.ExitCode == nil || *f.ExitCode != 0 {
				t.Fatalf("exit code: %+v", f)
			}
		}
	}
	if got := out.String(); got != "0\n1\n2\nname? hi bai\n" {
		t.Fatalf("stdout %q (frames %+v)", got, frames)
	}
	// Output streams while the run goes on: the lines printed 0.3 s apart
	// come in more than one frame, not all at the end.
	withOutput := 0
	for _, f := range frames {
		for _, it := range f.Console {
			if it[0] == "stdout" {
				withOutput++
				break
			}
		}
	}
	if withOutput < 2 {
		t.Errorf("stdout came in %d frame(s): not streamed (frames %+v)", withOutput, frames)
	}
	if frames[len(frames)-1].Status != "finished" {
		t.Errorf("last frame %+v", frames[len(frames)-1])
	}
}
