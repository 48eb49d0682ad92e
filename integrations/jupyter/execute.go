package jupyter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
)

// execute runs one execute_request through the session's execute stream
// and publishes its output as it arrives. failed reports an error reply;
// stop is the request's stop_on_error.
func (k *Kernel) execute(ctx context.Context, m *Message) (failed, stop bool) {
	var req struct {
		Code         string `json:"code"`
		Silent       bool   `json:"silent"`
		StoreHistory *bool  `json:"store_history"`
		AllowStdin   *bool  `json:"allow_stdin"`
		StopOnError  *bool  `json:"stop_on_error"`
	}
	if err := json.Unmarshal(m.Content, &req); err != nil {
		k.reply(k.shell, &k.shellMu, m, "execute_reply", errorContent("ValueError", "malformed execute_request: "+err.Error(), nil))
		return true, false
	}
	store := !req.Silent && (req.StoreHistory == nil || *req.StoreHistory)
	allowStdin := req.AllowStdin == nil || *req.AllowStdin
	stop = req.StopOnError == nil || *req.StopOnError
	if store {
		k.execCount++
	}
	count := k.execCount
	if !req.Silent {
		k.publish(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}
	out := Outputs{
		Stream: func(name, text string) {
			if !req.Silent {
				k.publish(m, "stream", map[string]any{"name": name, "text": text})
			}
		},
		Display: func(data map[string]any) {
			if !req.Silent {
				k.publish(m, "display_data", map[string]any{"data": data, "metadata": map[string]any{}, "transient": map[string]any{}})
			}
		},
	}
	fail := func(ename, evalue string, traceback []string) (bool, bool) {
		if len(traceback) == 0 {
			traceback = []string{ename + ": " + evalue}
		}
		if !req.Silent {
			k.publish(m, "error", map[string]any{"ename": ename, "evalue": evalue, "traceback": traceback})
		}
		content := errorContent(ename, evalue, traceback)
		content["execution_count"] = count
		k.reply(k.shell, &k.shellMu, m, "execute_reply", content)
		return true, stop
	}

	sess, err := k.waitSession(ctx)
	if err != nil {
		return fail("SessionError", "the bai session could not be started: "+describe(err), nil)
	}
	if strings.TrimSpace(req.Code) == "" {
		k.reply(k.shell, &k.shellMu, m, "execute_reply", okReply(count))
		return false, stop
	}
	select { // an interrupt that came between runs is not for this one
	case <-k.interruptCh:
	default:
	}
	tr := NewTranslator(out, k.runtime == "python")
	h := &execHandler{k: k, parent: m, tr: tr, allowStdin: allowStdin}
	exit, err := k.cfg.API.StreamCode(ctx, sess, client.ModeQuery, req.Code, nil, h)
	held := tr.Finish(err != nil || exit != 0)
	var heldLines []string
	if held != "" {
		heldLines = strings.Split(strings.TrimRight(held, "\n"), "\n")
	}
	var te *client.ExecTimeoutError
	switch {
	case err == nil && exit == 0:
		k.reply(k.shell, &k.shellMu, m, "execute_reply", okReply(count))
		return false, stop
	case errors.As(err, &te):
		return fail("TimeoutError", "the run exceeded the session's execution time limit and was stopped", heldLines)
	case err != nil && ctx.Err() != nil:
		return fail("KernelShutdown", "the kernel is shutting down", heldLines)
	case errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound):
		return fail("SessionError", describe(err)+"; restart the kernel to get a new session", heldLines)
	case err != nil:
		return fail("BackendError", describe(err), heldLines)
	case held != "":
		pe, _ := ParsePythonTraceback(held)
		return fail(pe.Name, pe.Value, pe.Traceback)
	default:
		return fail("ExitError", fmt.Sprintf("the code ended with exit status %d", exit), nil)
	}
}

func okReply(count int) map[string]any {
	return map[string]any{"status": "ok", "execution_count": count, "payload": []any{}, "user_expressions": map[string]any{}}
}

// describe words an SDK error for a notebook user, naming the setting to
// fix where there is one.
func describe(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) && errors.Is(err, errdefs.ErrUnauthenticated) {
		return "the manager refused the keypair: check " + client.EnvAccessKey + " and " + client.EnvSecretKey + " (" + err.Error() + ")"
	}
	return err.Error()
}

// execHandler receives one run's console items and input requests.
type execHandler struct {
	k          *Kernel
	parent     *Message
	tr         *Translator
	allowStdin bool
}

// OnConsole publishes the item at once.
func (h *execHandler) OnConsole(it client.ConsoleItem) { h.tr.Item(it) }

// OnInput asks the front end for a line on the stdin channel and waits for
// the answer, an interrupt or the end of the kernel.
func (h *execHandler) OnInput(ctx context.Context, req client.InputRequest) (string, error) {
	k := h.k
	if !h.allowStdin {
		// Blocking would hang the run for good: this front end (nbconvert,
		// say) never answers. An empty line lets the program go on.
		h.tr.Item(client.ConsoleItem{Type: "stderr", Text: "[bai] the code reads input, but this front end does not send any: it gets an empty line\n"})
		return "", nil
	}
	select { // a reply to an earlier, abandoned request
	case <-k.inputCh:
	default:
	}
	k.reply(k.stdin, &k.stdinMu, h.parent, "input_request", map[string]any{"prompt": "", "password": req.IsPassword})
	select {
	case v := <-k.inputCh:
		return v, nil
	case <-k.interruptCh:
		// The interrupt was sent to the session already; the empty answer
		// only frees the stream, the program sees KeyboardInterrupt.
		return "", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
