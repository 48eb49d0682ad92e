package jupyter

import (
	"context"
	"encoding/json"
	"strings"

	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// execute runs one execute_request through the session's execute stream
// and publishes its output as it arrives. failed reports an error reply;
// stop is the request's stop_on_error.
func (k *Kernel) execute(ctx context.Context, m *Message) (failed, stop bool) {
	var req kernelcore.ExecuteRequest
	if err := json.Unmarshal(m.Content, &req); err != nil {
		exc := kernelcore.Exception{Name: "ValueError", Value: "malformed execute_request: " + err.Error()}
		k.reply(k.shell, &k.shellMu, m, "execute_reply", exc.Reply())
		return true, false
	}
	stop = req.StopsOnError()
	if req.Counts() {
		k.execCount++
	}
	count := k.execCount
	if !req.Silent {
		k.publish(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}
	fail := func(exc *kernelcore.Exception) (bool, bool) {
		if !req.Silent {
			k.publish(m, "error", exc.Content())
		}
		content := exc.Reply()
		content["execution_count"] = count
		k.reply(k.shell, &k.shellMu, m, "execute_reply", content)
		return true, stop
	}

	sess, err := k.waitSession(ctx)
	if err != nil {
		return fail(&kernelcore.Exception{Name: "SessionError", Value: "the bai session could not be started: " + kernelcore.Describe(err)})
	}
	if strings.TrimSpace(req.Code) == "" {
		k.reply(k.shell, &k.shellMu, m, "execute_reply", okReply(count))
		return false, stop
	}
	select { // an interrupt that came between runs is not for this one
	case <-k.interruptCh:
	default:
	}
	out := kernelcore.Outputs{
		Stream: func(name, text string) {
			k.publish(m, "stream", map[string]any{"name": name, "text": text})
		},
		Display: func(data map[string]any) {
			k.publish(m, "display_data", map[string]any{"data": data, "metadata": map[string]any{}, "transient": map[string]any{}})
		},
	}
	cell := kernelcore.Cell{Session: sess, Request: req, Python: k.runtime == "python", Out: out,
		Input: func(ctx context.Context, password bool) (string, error) { return k.askInput(ctx, m, password) }}
	if exc := kernelcore.Run(ctx, k.cfg.API, cell); exc != nil {
		return fail(exc)
	}
	k.reply(k.shell, &k.shellMu, m, "execute_reply", okReply(count))
	return false, stop
}

func okReply(count int) map[string]any {
	return map[string]any{"status": "ok", "execution_count": count, "payload": []any{}, "user_expressions": map[string]any{}}
}

// askInput asks the front end for a line on the stdin channel and waits
// for the answer, an interrupt or the end of the kernel.
func (k *Kernel) askInput(ctx context.Context, parent *Message, password bool) (string, error) {
	select { // a reply to an earlier, abandoned request
	case <-k.inputCh:
	default:
	}
	k.reply(k.stdin, &k.stdinMu, parent, "input_request", map[string]any{"prompt": "", "password": password})
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
