package jupytergw

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/apitypes"
)

func TestDecodeMsg(t *testing.T) {
	t.Parallel()
	bad := []string{`not json`, `{}`, `{"header": null}`, `{"header": {"msg_id": "1"}}`, `{"header": "x"}`}
	for _, s := range bad {
		if _, err := decodeMsg([]byte(s)); err == nil {
			t.Errorf("decodeMsg(%s): no error", s)
		}
	}
	m, err := decodeMsg([]byte(`{"header": {"msg_id": "1", "msg_type": "execute_request", "extra": 5}, "content": {"code": "1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "shell" || m.Header.MsgType != "execute_request" {
		t.Errorf("decoded %+v", m)
	}
	out := newMsg(chIOPub, "status", "sess", m, map[string]any{"execution_state": "busy"}, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC))
	b, _ := json.Marshal(out)
	for _, want := range []string{`"parent_header":{"msg_id":"1","msg_type":"execute_request","extra":5}`, `"date":"2026-01-02T03:04:05.000006Z"`,
		`"msg_type":"status"`, `"channel":"iopub"`, `"buffers":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("message %s lacks %s", b, want)
		}
	}
}

func TestSpecsFromImages(t *testing.T) {
	t.Parallel()
	sl := specsFromImages([]apitypes.ImageInfo{
		{Name: "python:3.11-debian", RuntimeType: "python"}, {Name: "python:3.12-debian", RuntimeType: "python"},
		{Name: "nodejs:18-debian"}, {Name: "weird:1"},
	})
	var names []string
	for n := range sl.Kernelspecs {
		names = append(names, n)
	}
	for _, want := range []string{"bai-python-3.11-debian", "bai-python-3.12-debian", "bai-nodejs", "bai-weird"} {
		if sl.Kernelspecs[want] == nil {
			t.Errorf("no spec %s among %v", want, names)
		}
	}
	if sl.Default != "bai-nodejs" {
		t.Errorf("default %q, want the first by name when there is no bai-python", sl.Default)
	}
	// A manager that reports no runtime type: the repository names it.
	if ks := sl.Kernelspecs["bai-nodejs"]; ks.Spec.Language != "javascript" || ks.runtime != "nodejs" || ks.image != "nodejs:18-debian" {
		t.Errorf("nodejs spec %+v", ks)
	}
	if b, _ := json.Marshal(sl.Kernelspecs["bai-weird"]); !strings.Contains(string(b), `"argv":[]`) {
		t.Errorf("argv must be an empty list, not null: %s", b)
	}
	if sl := specsFromImages([]apitypes.ImageInfo{{Name: "c:gcc12-debian"}, {Name: "python:3.11-debian"}}); sl.Default != "bai-python" {
		t.Errorf("default %q, want bai-python", sl.Default)
	}
}
