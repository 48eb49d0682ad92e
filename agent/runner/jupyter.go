package runner

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The python image installs Debian's python3-notebook (the classic
// Notebook 6), which has no launcher script of its own: it is started as
// a module of Debian's Python.
const (
	jupyterPython = "/usr/bin/python3"
	jupyterModule = "/usr/lib/python3/dist-packages/notebook/__main__.py"
)

// jupyterApp is a Jupyter Notebook server the runner started for the
// "jupyter" app. It serves on 127.0.0.1 inside the container only; the app
// proxy reaches it through the runner's relay socket.
type jupyterApp struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// startJupyter starts the Notebook server on port. It has no token or
// password: nothing outside the container can reach 127.0.0.1 there, and
// the only way in is the manager's app proxy, which already requires the
// session owner's keypair (Backend.AI does the same). Its other defences
// stay on: the XSRF check on state-changing requests, and the Host header
// check that stops DNS rebinding against a local `bai app` port.
//
// The server and its kernels run through the jail like any user code, in
// the work directory, and die with the runner.
func startJupyter(cfg Config, log *slog.Logger, port int) (*jupyterApp, error) {
	if _, err := os.Stat(jupyterModule); err != nil {
		return nil, fmt.Errorf("this image has no Jupyter Notebook (%s is missing: install Debian's python3-notebook)", jupyterModule)
	}
	cmd := exec.Command(jupyterPython, "-m", "notebook",
		"--no-browser",
		"--ip=127.0.0.1",
		"--port="+strconv.Itoa(port),
		"--port-retries=0",
		"--notebook-dir="+cfg.WorkDir,
		"--NotebookApp.token=",
		"--NotebookApp.password=",
		// No check for newer versions or news feeds: sessions are offline.
		"--NotebookApp.show_banner=False",
	)
	cmd.Dir = cfg.WorkDir
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = env
	// Its log goes to the container's log (bai session logs), like the
	// runner's own.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cfg.jailCmd(cmd); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start Jupyter: %w", err)
	}
	j := &jupyterApp{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		log.Info("jupyter exited", "err", err)
		close(j.done)
	}()
	return j, nil
}

// Exited reports whether the server has ended on its own (so a new
// start-service starts it again).
func (j *jupyterApp) Exited() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// Close stops the server and its kernels: SIGTERM to its process group,
// then SIGKILL if it has not gone within 5 s. It returns once the server
// has exited.
func (j *jupyterApp) Close() error {
	j.once.Do(func() {
		pg := -j.cmd.Process.Pid
		_ = syscall.Kill(pg, syscall.SIGTERM)
		select {
		case <-j.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-j.done
		}
	})
	return nil
}
