package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// Execute modes of the polling API.
const (
	ModeQuery    = "query"
	ModeBatch    = "batch"
	ModeContinue = "continue"
	ModeInput    = "input"
)

// ConsoleItem is one decoded entry of an execute answer's console list.
type ConsoleItem struct {
	// Type is stdout, stderr, media, html, log or completion.
	Type string
	// Text is the text of stdout, stderr and html items, the data of media
	// items and the message of log items.
	Text string
	// MIME is the media type of media items.
	MIME string
	// Raw is the item's data as decoded from JSON.
	Raw any
}

// InputRequest describes a waiting-input answer: the program reads stdin.
type InputRequest struct {
	// IsPassword asks the client to hide what the user types.
	IsPassword bool
	// Options are the raw options of the answer.
	Options map[string]any
}

// Handler receives what a run produces, in order.
type Handler interface {
	// OnConsole is called for each console item as soon as it arrives.
	OnConsole(item ConsoleItem)
	// OnInput is called when the program waits for input; its answer is
	// sent to the program (a newline is not added).
	OnInput(ctx context.Context, req InputRequest) (string, error)
}

// StepHandler is optionally implemented by a Handler that wants to know
// when the clean and build steps of a batch run end.
type StepHandler interface {
	// OnStep is called with clean-finished or build-finished and the step's
	// exit code.
	OnStep(status string, exitCode int)
}

// Handlers adapts plain functions to Handler; nil functions ignore console
// items and answer input with an empty line.
type Handlers struct {
	Console func(ConsoleItem)
	Input   func(ctx context.Context, req InputRequest) (string, error)
	Step    func(status string, exitCode int)
}

// OnConsole calls h.Console.
func (h Handlers) OnConsole(item ConsoleItem) {
	if h.Console != nil {
		h.Console(item)
	}
}

// OnInput calls h.Input.
func (h Handlers) OnInput(ctx context.Context, req InputRequest) (string, error) {
	if h.Input == nil {
		return "", nil
	}
	return h.Input(ctx, req)
}

// OnStep calls h.Step.
func (h Handlers) OnStep(status string, exitCode int) {
	if h.Step != nil {
		h.Step(status, exitCode)
	}
}

// ExecTimeoutError reports that the agent stopped the run for exceeding its
// time limit. It unwraps to errdefs.ErrTimeout. RunID is empty for runs of
// StreamCode, whose frames do not carry it.
type ExecTimeoutError struct{ RunID string }

// Error says what happened.
func (e *ExecTimeoutError) Error() string {
	if e.RunID == "" {
		return "execution timed out"
	}
	return fmt.Sprintf("run %s: execution timed out", e.RunID)
}

// Unwrap returns errdefs.ErrTimeout.
func (e *ExecTimeoutError) Unwrap() error { return errdefs.ErrTimeout }

// NewRunID returns a fresh random run id.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RunCode runs code in a session and drives the execute loop to its end:
// it posts the first request (mode query or batch, with opts as options),
// then polls with mode continue while the status is continued (and after the
// clean and build steps of a batch run), answers waiting-input through
// h.OnInput, and hands every console item to h.OnConsole as it arrives. It
// returns the program's exit code once the status is finished; an
// exec-timeout returns *ExecTimeoutError. Cancelling ctx stops the loop; the
// caller decides whether to interrupt or destroy the session.
func (c *Client) RunCode(ctx context.Context, session, mode, code string, opts map[string]any, h Handler) (exitCode int, err error) {
	if mode == "" {
		mode = ModeQuery
	}
	if h == nil {
		h = Handlers{}
	}
	req := apitypes.Execute{Mode: mode, RunID: NewRunID(), Code: code}
	if opts != nil {
		raw, err := json.Marshal(opts)
		if err != nil {
			return -1, fmt.Errorf("encode run options: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		req.Options = raw
	}
	for {
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		res, err := c.Execute(ctx, session, req)
		if err != nil {
			return -1, err
		}
		if res.RunID != "" {
			req.RunID = res.RunID
		}
		for _, raw := range res.Console {
			h.OnConsole(decodeConsole(raw))
		}
		code := 0
		if res.ExitCode != nil {
			code = *res.ExitCode
		}
		next := apitypes.Execute{Mode: ModeContinue, RunID: req.RunID}
		switch res.Status {
		case apitypes.RunFinished:
			return code, nil
		case apitypes.RunExecTimeout:
			return code, &ExecTimeoutError{RunID: req.RunID}
		case apitypes.RunCleanFinished, apitypes.RunBuildFinished:
			if sh, ok := h.(StepHandler); ok {
				sh.OnStep(res.Status, code)
			}
		case apitypes.RunWaitingInput:
			ir := InputRequest{Options: res.Options}
			if v, ok := res.Options["is_password"].(bool); ok {
				ir.IsPassword = v
			}
			answer, err := h.OnInput(ctx, ir)
			if err != nil {
				return -1, fmt.Errorf("read input for run %s: %w", req.RunID, err)
			}
			next = apitypes.Execute{Mode: ModeInput, RunID: req.RunID, Code: answer}
		case apitypes.RunContinued:
		default:
			return -1, fmt.Errorf("run %s: unknown execute status %q: %w", req.RunID, res.Status, errdefs.ErrInternal)
		}
		req = next
	}
}

// decodeConsole turns one [type, data] pair into a ConsoleItem.
func decodeConsole(raw [2]any) ConsoleItem {
	typ, _ := raw[0].(string)
	it := ConsoleItem{Type: typ, Raw: raw[1]}
	switch d := raw[1].(type) {
	case string:
		it.Text = d
	case []any:
		switch typ {
		case "media":
			if len(d) >= 2 {
				it.MIME, _ = d[0].(string)
				it.Text = stringify(d[1])
			}
		case "log":
			if len(d) >= 4 {
				it.Text = stringify(d[3])
			}
		}
	case map[string]any:
		if typ == "media" {
			it.MIME, _ = d["type"].(string)
			it.Text = stringify(d["data"])
		}
	}
	return it
}

func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
