package jupytergw

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// dateLayout is how Jupyter writes times: ISO 8601, microseconds, UTC "Z".
// jupyter-server parses a kernel model's last_activity with exactly
// "%Y-%m-%dT%H:%M:%S.%fZ", so this must not change.
const dateLayout = "2006-01-02T15:04:05.000000Z"

// Channels of the Jupyter protocol carried over the one WebSocket.
const (
	chShell   = "shell"
	chIOPub   = "iopub"
	chStdin   = "stdin"
	chControl = "control"
)

// Header is a Jupyter message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Username string `json:"username"`
	Session  string `json:"session"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// inMsg is a message from a client. The header is kept raw too, so that
// the parent_header of our answers is exactly what the client sent.
type inMsg struct {
	RawHeader json.RawMessage `json:"header"`
	Content   json.RawMessage `json:"content"`
	Metadata  json.RawMessage `json:"metadata"`
	Channel   string          `json:"channel"`
	Header    Header          `json:"-"`
}

// decodeMsg parses one JSON text frame of the channels socket.
func decodeMsg(data []byte) (*inMsg, error) {
	var m inMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("message is not JSON: %w", err)
	}
	if len(m.RawHeader) == 0 || string(m.RawHeader) == "null" {
		return nil, fmt.Errorf("message has no header")
	}
	if err := json.Unmarshal(m.RawHeader, &m.Header); err != nil {
		return nil, fmt.Errorf("message header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, fmt.Errorf("message header has no msg_type")
	}
	if m.Channel == "" {
		// Old clients leave the channel out of shell requests.
		m.Channel = chShell
	}
	if len(m.Content) == 0 || string(m.Content) == "null" {
		m.Content = json.RawMessage("{}")
	}
	return &m, nil
}

// outMsg is a message to a client. msg_id and msg_type are repeated at the
// top level as jupyter_client's Session.deserialize does: jupyter-server's
// gateway client logs them from there.
type outMsg struct {
	Channel      string          `json:"channel"`
	Header       Header          `json:"header"`
	MsgID        string          `json:"msg_id"`
	MsgType      string          `json:"msg_type"`
	ParentHeader json.RawMessage `json:"parent_header"`
	Metadata     map[string]any  `json:"metadata"`
	Content      any             `json:"content"`
	Buffers      []any           `json:"buffers"`
}

// newMsg builds a message of the kernel whose Jupyter session id is
// session, answering parent (nil for none).
func newMsg(channel, msgType, session string, parent *inMsg, content any, now time.Time) outMsg {
	id := uuid.NewString()
	ph := json.RawMessage("{}")
	if parent != nil {
		ph = parent.RawHeader
	}
	return outMsg{
		Channel: channel,
		Header: Header{MsgID: id, Username: "bai", Session: session, Date: now.UTC().Format(dateLayout),
			MsgType: msgType, Version: kernelcore.ProtocolVersion},
		MsgID: id, MsgType: msgType, ParentHeader: ph,
		Metadata: map[string]any{}, Content: content, Buffers: []any{},
	}
}
