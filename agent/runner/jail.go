package runner

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
)

// policyName keeps the runtime type usable as a jail policy name.
var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// jailCmd makes cmd start through bai-jail (agent/jail) when the kernel
// asks for one: bai-jail becomes the process the runner starts and signals
// (its process group holds the user's processes), and it execs the
// program under its policy: the image's (ai.backend.jail-policy), else the
// one named after the runtime type. The jail's log
// descriptor is the runner's stderr, so refused calls land in the
// container's log (GET /session/{name}/logs). Call it before
// prepareNotifyExec, which puts its own descriptor after the jail's.
func (c Config) jailCmd(cmd *exec.Cmd) error {
	j := c.Jail
	if j.Mode == "" || j.Mode == "off" || cmd.Err != nil {
		return nil
	}
	if st, err := os.Stat(j.Path); err != nil || st.IsDir() {
		return fmt.Errorf("the kernel should run code in jail mode %q but %s is missing: the agent's kernel library directory lacks bai-jail (run make build)", j.Mode, j.Path)
	}
	policy := "default"
	switch {
	case policyName.MatchString(j.Policy):
		policy = j.Policy
	case policyName.MatchString(c.RuntimeType):
		policy = c.RuntimeType
	}
	args := []string{j.Path, "--mode", j.Mode, "--policy", policy, "--policy-dir", j.PolicyDir,
		"--log-fd", strconv.Itoa(3 + len(cmd.ExtraFiles)), "--keep-env", j.KeepEnv, "--", cmd.Path}
	cmd.Args = append(args, cmd.Args[1:]...)
	cmd.Path = j.Path
	cmd.ExtraFiles = append(cmd.ExtraFiles, os.Stderr)
	return nil
}
