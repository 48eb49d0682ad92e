package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
)

// streamFlush is how long one step of a streamed run waits for more output
// before the frames collected so far go out.
const streamFlush = 200 * time.Millisecond

var upgrader = websocket.Upgrader{
	ReadBufferSize:  16 << 10,
	WriteBufferSize: 16 << 10,
	// Requests are authenticated by their signature, not by cookies, so
	// the Origin header says nothing about who is asking.
	CheckOrigin: func(*http.Request) bool { return true },
}

// streamFrame is one server → client frame of the execute stream.
type streamFrame struct {
	Status   string         `json:"status"`
	Console  [][2]any       `json:"console"`
	ExitCode *int           `json:"exitCode"`
	Options  map[string]any `json:"options"`
	Files    []any          `json:"files"`
	Msg      string         `json:"msg,omitempty"`
}

// executeStream serves GET /stream/session/{name}/execute: the first client
// message is {"mode","code","options"}; the server pushes a frame per step
// until the run finishes; after a waiting-input frame, the next text frame
// from the client is the input, as raw text.
func (h *Handlers) executeStream(c echo.Context) error {
	o := owner(c)
	name := c.Param("name")
	// Answer a bad name with a proper 404 before switching protocols.
	info, err := h.Sessions.Info(c.Request().Context(), o.AccessKey, name)
	if err != nil {
		return err
	}
	if id, err := uuid.Parse(info.SessionID); err == nil {
		defer h.Sessions.StreamOpened(id)() // an open stream keeps the session from idling out
	}
	ws, err := upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader already answered
	}
	defer ws.Close()
	ws.SetReadLimit(h.Cfg.MaxBodyBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.Request().Context()))
	defer cancel()

	// One reader keeps consuming frames so pings are answered at once
	// (gorilla answers them inside ReadMessage) even while a step waits.
	msgs := make(chan []byte, 4)
	go func() {
		defer cancel()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			select {
			case msgs <- data:
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func() ([]byte, bool) {
		select {
		case m := <-msgs:
			return m, true
		case <-ctx.Done():
			return nil, false
		}
	}
	send := func(f streamFrame) bool {
		if f.Console == nil {
			f.Console = [][2]any{}
		}
		if f.Options == nil {
			f.Options = map[string]any{}
		}
		if f.Files == nil {
			f.Files = []any{}
		}
		_ = ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return ws.WriteJSON(f) == nil
	}
	closeWith := func(code int, text string) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	}

	first, ok := next()
	if !ok {
		return nil
	}
	var req apitypes.Execute
	if err := json.Unmarshal(first, &req); err != nil {
		send(streamFrame{Status: "error", Msg: "the first message must be a JSON object {\"mode\", \"code\", \"options\"}"})
		closeWith(websocket.CloseUnsupportedData, "bad first message")
		return nil
	}
	if req.Mode == "" {
		req.Mode = "query"
	}
	for {
		res, err := h.Sessions.ExecuteFlush(ctx, o.AccessKey, name, req, streamFlush)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				send(streamFrame{Status: "error", Msg: err.Error()})
				closeWith(websocket.CloseInternalServerErr, "execution failed")
			}
			return nil
		}
		req.RunID = res.RunID
		if res.Status != apitypes.RunContinued || len(res.Console) > 0 {
			if !send(streamFrame{Status: res.Status, Console: res.Console, ExitCode: res.ExitCode, Options: res.Options, Files: res.Files}) {
				return nil
			}
		}
		switch res.Status {
		case apitypes.RunFinished, apitypes.RunExecTimeout:
			closeWith(websocket.CloseNormalClosure, res.Status)
			return nil
		case apitypes.RunWaitingInput:
			in, ok := next()
			if !ok {
				return nil
			}
			req.Mode, req.Code, req.Options = "input", string(in), nil
		default: // continued, clean-finished, build-finished
			req.Mode, req.Code, req.Options = "continue", "", nil
		}
	}
}
