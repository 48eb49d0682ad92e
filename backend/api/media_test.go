package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/internal/servertest"
)

// svgProgram emits, through the runner's real __bai__ channel, SVG that a
// browser would run script from, SVG that does not parse, SVG under a
// media type in another case and with a parameter, and a PNG (left
// alone).
const svgProgram = `import __bai__
__bai__.emit('image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
  '<rect width="5" height="5" fill="red" onclick="alert(3)"><set attributeName="href" to="javascript:alert(4)"/></rect></svg>')
__bai__.emit('image/svg+xml', '<svg><g></svg>')
__bai__.emit('IMAGE/SVG+XML; charset=utf-8', '<svg><foreignObject><body onload="alert(5)"/></foreignObject><circle r="1"/></svg>')
__bai__.emit('image/png', 'iVBORw0KGgo=')
print('done')
`

// checkSVGConsole checks the media items that svgProgram's run produced.
func checkSVGConsole(t *testing.T, console [][2]any) {
	t.Helper()
	var media [][]any
	out := ""
	for _, it := range console {
		switch it[0] {
		case "media":
			m, ok := it[1].([]any)
			if !ok || len(m) != 2 {
				t.Fatalf("media item %v is not [type, data]", it[1])
			}
			media = append(media, m)
		case "stdout":
			out += it[1].(string)
		}
	}
	if out != "done\n" {
		t.Fatalf("stdout %q, want done (console %v)", out, console)
	}
	want := [][]any{
		{"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><rect width="5" height="5" fill="red"/></svg>`},
		{"text/plain", "[SVG output dropped: svg: XML syntax error on line 1: element <g> closed by </svg>: invalid argument]"},
		{"IMAGE/SVG+XML; charset=utf-8", `<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>`},
		{"image/png", "iVBORw0KGgo="},
	}
	if len(media) != len(want) {
		t.Fatalf("%d media items, want %d: %v", len(media), len(want), media)
	}
	for i := range want {
		got, _ := media[i][1].(string)
		ok := media[i][0] == want[i][0] && got == want[i][1]
		if i == 1 { // the wording of encoding/xml's message may change
			ok = media[i][0] == want[i][0] && strings.HasPrefix(got, "[SVG output dropped: svg: XML syntax error")
		}
		if !ok {
			t.Errorf("media item %d:\n got %q\nwant %q", i, media[i], want[i])
		}
	}
}

// TestExecuteSanitizesSVG runs a program that prints hostile SVG through
// the real runner and checks that both the execute answer and the
// execute WebSocket stream hand it to the client sanitised.
func TestExecuteSanitizesSVG(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "svg-1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	t.Run("execute", func(t *testing.T) {
		res := execute(t, s, "svg-1", svgProgram)
		if res.Status != "finished" {
			t.Fatalf("status %q: %v", res.Status, res.Console)
		}
		checkSVGConsole(t, res.Console)
	})

	t.Run("stream", func(t *testing.T) {
		path := "/stream/session/svg-1/execute"
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+path, s.SignedHeader("GET", path))
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteJSON(map[string]any{"mode": "query", "code": svgProgram}); err != nil {
			t.Fatal(err)
		}
		var console [][2]any
		for {
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, data, err := ws.ReadMessage()
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				break
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			var f frame
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatalf("frame %s: %v", data, err)
			}
			console = append(console, f.Console...)
		}
		checkSVGConsole(t, console)
	})
}
