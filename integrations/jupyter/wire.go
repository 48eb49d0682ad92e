package jupyter

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// delimiter separates the routing identities from the signed message.
var delimiter = []byte("<IDS|MSG>")

// ErrBadSignature is returned by Decode for a message whose HMAC does not
// match; such messages are dropped, as the protocol requires.
var ErrBadSignature = fmt.Errorf("message signature does not match the connection key: %w", errdefs.ErrUnauthenticated)

// ConnectionInfo is a kernel connection file, written by the front end
// before it starts the kernel: where to bind and how to sign.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name"`
}

// ReadConnectionFile reads and checks a connection file.
func ReadConnectionFile(path string) (ConnectionInfo, error) {
	var ci ConnectionInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return ci, fmt.Errorf("connection file: %w", err)
	}
	if err := json.Unmarshal(data, &ci); err != nil {
		return ci, fmt.Errorf("connection file %s: %w: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if ci.Transport == "" {
		ci.Transport = "tcp"
	}
	if ci.Transport != "tcp" && ci.Transport != "ipc" {
		return ci, fmt.Errorf("connection file %s: transport %q: only tcp and ipc are supported: %w", path, ci.Transport, errdefs.ErrInvalidArgument)
	}
	if ci.IP == "" {
		ci.IP = "127.0.0.1"
	}
	for name, p := range map[string]int{"shell_port": ci.ShellPort, "iopub_port": ci.IOPubPort, "stdin_port": ci.StdinPort, "control_port": ci.ControlPort, "hb_port": ci.HBPort} {
		if p <= 0 || p > 65535 {
			return ci, fmt.Errorf("connection file %s: %s %d is not a port: %w", path, name, p, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := NewSigner(ci.SignatureScheme, ci.Key); err != nil {
		return ci, fmt.Errorf("connection file %s: %w", path, err)
	}
	return ci, nil
}

// Endpoint returns the ZeroMQ address of a channel's port: tcp://IP:PORT,
// or for the ipc transport the file IP-PORT, as jupyter_client names it.
func (ci ConnectionInfo) Endpoint(port int) string {
	if ci.Transport == "ipc" {
		return "ipc://" + ci.IP + "-" + strconv.Itoa(port)
	}
	host := ci.IP
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return "tcp://" + host + ":" + strconv.Itoa(port)
}

// Signer signs and verifies messages with the connection key. A Signer
// with an empty key signs with "" and accepts anything, which is what the
// protocol specifies for connections without a key.
type Signer struct {
	key     []byte
	newHash func() hash.Hash
}

// NewSigner returns the signer for a connection file's signature_scheme
// and key. Only hmac-sha256 is supported (it is what every front end
// writes).
func NewSigner(scheme, key string) (*Signer, error) {
	switch scheme {
	case "hmac-sha256", "":
	default:
		return nil, fmt.Errorf("signature scheme %q: only hmac-sha256 is supported: %w", scheme, errdefs.ErrInvalidArgument)
	}
	return &Signer{key: []byte(key), newHash: sha256.New}, nil
}

// Sign returns the hex HMAC of the four signed frames.
func (s *Signer) Sign(header, parent, metadata, content []byte) string {
	if len(s.key) == 0 {
		return ""
	}
	m := hmac.New(s.newHash, s.key)
	m.Write(header)
	m.Write(parent)
	m.Write(metadata)
	m.Write(content)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of the four frames, in
// constant time.
func (s *Signer) Verify(sig string, header, parent, metadata, content []byte) bool {
	if len(s.key) == 0 {
		return true
	}
	want := s.Sign(header, parent, metadata, content)
	return hmac.Equal([]byte(want), []byte(sig))
}

// Header is a message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one Jupyter message. ParentHeader, Metadata and Content are
// kept as raw JSON: a reply's parent header must be the request's header
// as sent, and content is decoded by whoever knows its type.
type Message struct {
	// Identities are the ZeroMQ routing frames before the delimiter (the
	// topic on iopub).
	Identities   [][]byte
	Header       Header
	ParentHeader json.RawMessage
	Metadata     json.RawMessage
	Content      json.RawMessage
	Buffers      [][]byte

	// rawHeader is the header exactly as received, for parent headers.
	rawHeader json.RawMessage
}

// RawHeader returns the header as it was on the wire (or as it will be
// encoded, for a message built here).
func (m *Message) RawHeader() json.RawMessage {
	if m.rawHeader != nil {
		return m.rawHeader
	}
	b, _ := json.Marshal(m.Header)
	return b
}

// Decode parses the frames of one message received on a ROUTER socket and
// verifies its signature. A bad signature returns ErrBadSignature.
func Decode(frames [][]byte, s *Signer) (*Message, error) {
	i := 0
	for i < len(frames) && !bytes.Equal(frames[i], delimiter) {
		i++
	}
	if i == len(frames) {
		return nil, fmt.Errorf("no <IDS|MSG> delimiter in %d frames: %w", len(frames), errdefs.ErrInvalidArgument)
	}
	if len(frames) < i+6 {
		return nil, fmt.Errorf("%d frames after the delimiter, want at least 5: %w", len(frames)-i-1, errdefs.ErrInvalidArgument)
	}
	sig, header, parent, metadata, content := frames[i+1], frames[i+2], frames[i+3], frames[i+4], frames[i+5]
	if !s.Verify(string(sig), header, parent, metadata, content) {
		return nil, ErrBadSignature
	}
	m := &Message{
		Identities:   frames[:i],
		ParentHeader: json.RawMessage(parent),
		Metadata:     json.RawMessage(metadata),
		Content:      json.RawMessage(content),
		Buffers:      frames[i+6:],
		rawHeader:    json.RawMessage(header),
	}
	if err := json.Unmarshal(header, &m.Header); err != nil {
		return nil, fmt.Errorf("message header: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if m.Header.MsgType == "" {
		return nil, fmt.Errorf("message header without msg_type: %w", errdefs.ErrInvalidArgument)
	}
	return m, nil
}

// Encode returns the frames of m, signed: identities, the delimiter, the
// signature, header, parent header, metadata, content and buffers.
func (m *Message) Encode(s *Signer) [][]byte {
	header := m.RawHeader()
	parent := orEmptyObject(m.ParentHeader)
	metadata := orEmptyObject(m.Metadata)
	content := orEmptyObject(m.Content)
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, delimiter, []byte(s.Sign(header, parent, metadata, content)), header, parent, metadata, content)
	return append(frames, m.Buffers...)
}

func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// NewMessage builds a message of type msgType in session, answering parent
// (nil for none) and sent to identities; content is encoded as JSON.
func NewMessage(session, msgType string, parent *Message, identities [][]byte, content any) (*Message, error) {
	body, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", msgType, err)
	}
	m := &Message{
		Identities: identities,
		Header: Header{
			MsgID:   uuid.NewString(),
			Session: session,
			// ipykernel answers as the requester's user; without a
			// request the name is ours.
			Username: "bai",
			Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
			MsgType:  msgType,
			Version:  kernelcore.ProtocolVersion,
		},
		ParentHeader: json.RawMessage("{}"),
		Metadata:     json.RawMessage("{}"),
		Content:      body,
	}
	if parent != nil {
		m.ParentHeader = parent.RawHeader()
		if parent.Header.Username != "" {
			m.Header.Username = parent.Header.Username
		}
	}
	return m, nil
}
