package jupyter_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter"
)

// TestSignerVector checks the signature against one computed by
// jupyter_client's Session.sign (and Python's hmac) for the same key and
// frames.
func TestSignerVector(t *testing.T) {
	t.Parallel()
	s, err := jupyter.NewSigner("hmac-sha256", "secret-key")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Sign([]byte(`{"msg_id":"1"}`), []byte(`{}`), []byte(`{}`), []byte(`{"code":"1"}`))
	const want = "6e9bbb6a828e1fd1b11aec9f33c97b42d59ed12d05667e03d6a51bff42612e03"
	if got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if !s.Verify(want, []byte(`{"msg_id":"1"}`), []byte(`{}`), []byte(`{}`), []byte(`{"code":"1"}`)) {
		t.Fatal("Verify refused the right signature")
	}
	if s.Verify(want, []byte(`{"msg_id":"2"}`), []byte(`{}`), []byte(`{}`), []byte(`{"code":"1"}`)) {
		t.Fatal("Verify accepted a signature of other frames")
	}
	if _, err := jupyter.NewSigner("hmac-md5", "k"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("hmac-md5: err %v, want ErrInvalidArgument", err)
	}
}

// frames builds a wire message by hand, independently of Encode.
func frames(ids []string, sig string, parts ...string) [][]byte {
	var f [][]byte
	for _, id := range ids {
		f = append(f, []byte(id))
	}
	f = append(f, []byte("<IDS|MSG>"), []byte(sig))
	for _, p := range parts {
		f = append(f, []byte(p))
	}
	return f
}

func TestDecode(t *testing.T) {
	t.Parallel()
	signer, _ := jupyter.NewSigner("hmac-sha256", "k3y")
	header := `{"msg_id":"m1","session":"s1","username":"u","date":"2024-01-01T00:00:00Z","msg_type":"execute_request","version":"5.3"}`
	content := `{"code":"print(1)"}`
	good := signer.Sign([]byte(header), []byte("{}"), []byte("{}"), []byte(content))
	tests := []struct {
		name    string
		frames  [][]byte
		signer  *jupyter.Signer
		wantErr error
	}{
		{"two identities and a buffer", append(frames([]string{"id-a", "id-b"}, good, header, "{}", "{}", content), []byte("buf")), signer, nil},
		{"no identity", frames(nil, good, header, "{}", "{}", content), signer, nil},
		{"bad signature", frames([]string{"id"}, strings.Repeat("0", 64), header, "{}", "{}", content), signer, jupyter.ErrBadSignature},
		{"signature of other content", frames([]string{"id"}, good, header, "{}", "{}", `{"code":"evil()"}`), signer, jupyter.ErrBadSignature},
		{"no signature with a key", frames([]string{"id"}, "", header, "{}", "{}", content), signer, jupyter.ErrBadSignature},
		{"no delimiter", [][]byte{[]byte("id"), []byte(good), []byte(header)}, signer, errdefs.ErrInvalidArgument},
		{"too few frames", frames([]string{"id"}, good, header, "{}"), signer, errdefs.ErrInvalidArgument},
		{"header without type", frames(nil, "", `{"msg_id":"x"}`, "{}", "{}", "{}"), mustSigner(t, ""), errdefs.ErrInvalidArgument},
		{"empty key accepts unsigned", frames(nil, "", header, "{}", "{}", content), mustSigner(t, ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := jupyter.Decode(tt.frames, tt.signer)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Header.MsgType != "execute_request" || m.Header.MsgID != "m1" || string(m.Content) != content {
				t.Fatalf("decoded %+v", m)
			}
			if string(m.RawHeader()) != header {
				t.Fatalf("raw header %s, want it as received", m.RawHeader())
			}
			if tt.name == "two identities and a buffer" {
				if len(m.Identities) != 2 || string(m.Identities[1]) != "id-b" || len(m.Buffers) != 1 || string(m.Buffers[0]) != "buf" {
					t.Fatalf("identities %q buffers %q", m.Identities, m.Buffers)
				}
			}
		})
	}
}

func mustSigner(t *testing.T, key string) *jupyter.Signer {
	s, err := jupyter.NewSigner("hmac-sha256", key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReplyFraming checks that a reply goes back to the request's
// identities with the request's header, byte for byte, as its parent, and
// that it verifies.
func TestReplyFraming(t *testing.T) {
	t.Parallel()
	signer := mustSigner(t, "k3y")
	header := `{"msg_id":"m1","session":"s1","username":"alice","date":"2024-01-01T00:00:00Z","msg_type":"kernel_info_request","version":"5.3","extra":1}`
	req, err := jupyter.Decode(frames([]string{"peer"}, signer.Sign([]byte(header), []byte("{}"), []byte("{}"), []byte("{}")), header, "{}", "{}", "{}"), signer)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := jupyter.NewMessage("kernel-session", "kernel_info_reply", req, req.Identities, map[string]any{"status": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Encode(signer)
	if len(f) != 7 || string(f[0]) != "peer" || string(f[1]) != "<IDS|MSG>" {
		t.Fatalf("frames %q", f)
	}
	if string(f[4]) != header {
		t.Fatalf("parent header %s, want the request's header as sent", f[4])
	}
	back, err := jupyter.Decode(f, signer)
	if err != nil {
		t.Fatalf("our own reply does not verify: %v", err)
	}
	var h map[string]any
	_ = json.Unmarshal(back.RawHeader(), &h)
	if h["msg_type"] != "kernel_info_reply" || h["version"] != "5.3" || h["session"] != "kernel-session" || h["username"] != "alice" || h["msg_id"] == "" || h["date"] == "" {
		t.Fatalf("header %v", h)
	}
	if _, err := jupyter.Decode(rep.Encode(mustSigner(t, "other")), signer); !errors.Is(err, jupyter.ErrBadSignature) {
		t.Fatalf("a reply signed with another key: err %v", err)
	}
}

func TestReadConnectionFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("kernel-1.json", `{"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "hb_port": 5005,
		"ip": "127.0.0.1", "key": "abc", "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": "bai-python"}`)
	ci, err := jupyter.ReadConnectionFile(ok)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Endpoint(ci.ShellPort) != "tcp://127.0.0.1:5001" || ci.Key != "abc" {
		t.Fatalf("%+v %s", ci, ci.Endpoint(ci.ShellPort))
	}
	ci.IP = "::1"
	if got := ci.Endpoint(1); got != "tcp://[::1]:1" {
		t.Fatalf("ipv6 endpoint %s", got)
	}
	ipc := jupyter.ConnectionInfo{Transport: "ipc", IP: "/tmp/kernel-ipc"}
	if got := ipc.Endpoint(3); got != "ipc:///tmp/kernel-ipc-3" {
		t.Fatalf("ipc endpoint %s", got)
	}
	for name, body := range map[string]string{
		"missing port": `{"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "key": "k"}`,
		"bad scheme":   `{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "signature_scheme": "hmac-sha1"}`,
		"bad json":     `{`,
		"transport":    `{"transport": "udp", "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}`,
	} {
		if _, err := jupyter.ReadConnectionFile(write(strings.ReplaceAll(name, " ", "-")+".json", body)); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := jupyter.ReadConnectionFile(filepath.Join(dir, "absent.json")); err == nil {
		t.Error("absent file: no error")
	}
}
