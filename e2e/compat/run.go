package compat

import (
	"context"
	"fmt"
	"time"
)

// Step is one answer of a run, with when it arrived.
type Step struct {
	Status   string
	ExitCode *int
	// At is the time since the run's first request.
	At time.Duration
}

// ExecSpec describes a run driven by Drive.
type ExecSpec struct {
	// Mode is query or batch.
	Mode    string
	Code    string
	Options map[string]any
	// Inputs answer waiting-input prompts in order.
	Inputs []string
	// OnAnswer, when set, sees every answer; returning an error stops the
	// run (used to interrupt at the right moment).
	OnAnswer func(*ExecResult) error
}

// DriveRun is the outcome of Drive: Run plus every status in order.
type DriveRun struct {
	Run
	Steps []Step
}

// Statuses lists the statuses of the answers in order.
func (d *DriveRun) Statuses() []string {
	out := make([]string, 0, len(d.Steps))
	for _, s := range d.Steps {
		out = append(out, s.Status)
	}
	return out
}

// Find returns the first step with the status, if any.
func (d *DriveRun) Find(status string) (Step, bool) {
	for _, s := range d.Steps {
		if s.Status == status {
			return s, true
		}
	}
	return Step{}, false
}

// Drive runs spec and polls with "continue" through continued,
// clean-finished and build-finished answers until the run ends (finished,
// exec-timeout or anything unknown), answering waiting-input from
// spec.Inputs.
func (c *Client) Drive(ctx context.Context, name string, spec ExecSpec) (*DriveRun, error) {
	d := &DriveRun{Run: Run{RunID: NewRunID()}}
	start := time.Now()
	mode, payload, opts, inputs := spec.Mode, spec.Code, spec.Options, spec.Inputs
	for {
		res, _, err := c.Execute(ctx, name, mode, d.RunID, payload, opts)
		if err != nil {
			return d, err
		}
		d.Answers = append(d.Answers, res)
		d.Steps = append(d.Steps, Step{Status: res.Status, ExitCode: res.ExitCode, At: time.Since(start)})
		items, err := res.Items()
		if err != nil {
			return d, err
		}
		for _, it := range items {
			d.Console = mergeItem(d.Console, it)
		}
		d.Status, d.ExitCode = res.Status, res.ExitCode
		if spec.OnAnswer != nil {
			if err := spec.OnAnswer(res); err != nil {
				return d, err
			}
		}
		opts = nil
		switch res.Status {
		case "continued", "clean-finished", "build-finished":
			if res.Status == "continued" {
				d.Continued++
			}
			mode, payload = "continue", ""
		case "waiting-input":
			if len(inputs) == 0 {
				return d, fmt.Errorf("run %s: waiting for input but none left", d.RunID)
			}
			mode, payload, inputs = "input", inputs[0], inputs[1:]
		default:
			return d, nil
		}
		if err := ctx.Err(); err != nil {
			return d, err
		}
	}
}
