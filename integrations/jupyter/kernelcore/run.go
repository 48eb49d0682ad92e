package kernelcore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// ExecuteRequest is the content of an execute_request, as far as bai's
// kernels use it.
type ExecuteRequest struct {
	Code         string `json:"code"`
	Silent       bool   `json:"silent"`
	StoreHistory *bool  `json:"store_history"`
	AllowStdin   *bool  `json:"allow_stdin"`
	StopOnError  *bool  `json:"stop_on_error"`
}

// Counts reports whether the request takes the next execution count: it
// is not silent and stores history (store_history is true when left out).
func (r ExecuteRequest) Counts() bool {
	return !r.Silent && (r.StoreHistory == nil || *r.StoreHistory)
}

// StdinAllowed reports whether the front end answers input_request
// (allow_stdin is true when left out, as jupyter_client sends it).
func (r ExecuteRequest) StdinAllowed() bool { return r.AllowStdin == nil || *r.AllowStdin }

// StopsOnError reports whether a failure of this cell aborts the execute
// requests queued behind it (stop_on_error is true when left out).
func (r ExecuteRequest) StopsOnError() bool { return r.StopOnError == nil || *r.StopOnError }

// Streamer runs code over a session's execute WebSocket stream;
// *client.Client implements it.
type Streamer interface {
	StreamCode(ctx context.Context, session, mode, code string, opts map[string]any, h client.Handler) (int, error)
}

// API is what a Jupyter kernel on a bai session needs of the manager:
// find the image, create and destroy the session, run cells, interrupt
// them and complete code. Both the ZeroMQ kernel and the gateway ask for
// it (the gateway for a little more); *client.Client implements it.
type API interface {
	Streamer
	Images(ctx context.Context) ([]apitypes.ImageInfo, error)
	CreateSession(ctx context.Context, req apitypes.CreateSession) (*apitypes.CreateSessionResult, error)
	DestroySession(ctx context.Context, nameOrID string, forced bool) (*apitypes.DestroyResult, error)
	Interrupt(ctx context.Context, nameOrID string) error
	Complete(ctx context.Context, nameOrID string, req apitypes.Complete) ([]any, error)
}

var _ API = (*client.Client)(nil)

// Cell is one execute_request to run in a session.
type Cell struct {
	// Session is the bai session's name.
	Session string
	// Request is the execute_request's content.
	Request ExecuteRequest
	// Python selects the Translator's handling of Python tracebacks.
	Python bool
	// Out receives the outputs as they arrive; nothing reaches it for a
	// silent request.
	Out Outputs
	// Input asks the front end for a line when the program reads input
	// and waits for the answer. After an interrupt it should answer "":
	// the interrupt reached the session already, so the program sees
	// KeyboardInterrupt, and the empty line only frees the stream. An
	// error ends the stream, and the run with a BackendError. Input is not
	// called when the request does not allow stdin.
	Input func(ctx context.Context, password bool) (string, error)
}

// noInputNote tells the user why a program that reads input got nothing.
const noInputNote = "[bai] the code reads input, but this front end does not send any: it gets an empty line\n"

// Run runs the cell in its session through the execute stream
// (client.StreamCode), so output reaches c.Out within about 200 ms of
// being printed. It returns nil when the run succeeded, or the exception
// the cell ends with: the Python traceback the run ended with, or a
// failure worded for a notebook user (TimeoutError, SessionError,
// BackendError, ExitError for another language's non-zero exit, and
// KernelShutdown once ctx has ended).
func Run(ctx context.Context, api Streamer, c Cell) *Exception {
	out := c.Out
	if c.Request.Silent {
		out = Outputs{Stream: func(string, string) {}, Display: func(map[string]any) {}}
	}
	h := &cellHandler{tr: NewTranslator(out, c.Python), input: c.Input}
	if !c.Request.StdinAllowed() {
		h.input = nil
	}
	exit, err := api.StreamCode(ctx, c.Session, client.ModeQuery, c.Request.Code, nil, h)
	held := h.tr.Finish(err != nil || exit != 0)
	var heldLines []string
	if held != "" {
		heldLines = strings.Split(strings.TrimRight(held, "\n"), "\n")
	}
	var te *client.ExecTimeoutError
	switch {
	case err == nil && exit == 0:
		return nil
	case errors.As(err, &te):
		return &Exception{"TimeoutError", "the run exceeded the session's execution time limit and was stopped", heldLines}
	case err != nil && ctx.Err() != nil:
		return &Exception{"KernelShutdown", "the kernel is shutting down", heldLines}
	case errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound):
		return &Exception{"SessionError", Describe(err) + "; the session is not running (restart the kernel, or start a new one if its session ended)", heldLines}
	case err != nil:
		return &Exception{"BackendError", Describe(err), heldLines}
	case held != "":
		pe, _ := ParsePythonTraceback(held)
		return &pe
	default:
		return &Exception{"ExitError", fmt.Sprintf("the code ended with exit status %d", exit), nil}
	}
}

// Describe words an SDK error for a notebook user, naming the setting to
// fix where there is one.
func Describe(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && errors.Is(err, errdefs.ErrUnauthenticated) {
		return "the manager refused the keypair: check " + client.EnvAccessKey + " and " + client.EnvSecretKey + " (" + err.Error() + ")"
	}
	return err.Error()
}

// cellHandler receives one run's console items and input requests.
type cellHandler struct {
	tr    *Translator
	input func(ctx context.Context, password bool) (string, error)
}

// OnConsole publishes the item at once.
func (h *cellHandler) OnConsole(it client.ConsoleItem) { h.tr.Item(it) }

// OnInput asks the front end, or answers an empty line where it cannot
// be asked: blocking would hang the run for good, as such a front end
// (nbconvert, say) never answers.
func (h *cellHandler) OnInput(ctx context.Context, req client.InputRequest) (string, error) {
	if h.input == nil {
		h.tr.Item(client.ConsoleItem{Type: "stderr", Text: noInputNote})
		return "", nil
	}
	return h.input(ctx, req.IsPassword)
}
