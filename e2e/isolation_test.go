package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/devserver"
)

// sessionNetwork and sessionBridge are the agent's defaults.
const (
	sessionNetwork = "bai-sessions"
	sessionBridge  = "bai-br0"
)

// startOwnServer starts a bai dev of the test's own (stopped at cleanup)
// with extra flags; empty addresses pick free loopback ports.
func startOwnServer(t *testing.T, listen, agentListen string, args ...string) *devserver.Server {
	t.Helper()
	srv, err := devserver.Start(context.Background(), devserver.Options{
		BinDir: st.binDir, DataDir: filepath.Join(t.TempDir(), "data"),
		Listen: listen, AgentListen: agentListen, Args: args,
	})
	if err != nil {
		t.Fatalf("start bai dev: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop bai dev: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", srv.LogTail(40))
		}
	})
	return srv
}

// logLine returns the first line of the server log containing s.
func logLine(srv *devserver.Server, s string) string {
	b, _ := os.ReadFile(srv.LogPath)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return sc.Text()
		}
	}
	return ""
}

// dockerField runs docker inspect with a Go template on one object.
func dockerField(t *testing.T, kind, id, format string) string {
	t.Helper()
	out, err := exec.Command("docker", kind, "inspect", "-f", format, id).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s inspect %s: %v: %s", kind, id, err, out)
	}
	return strings.TrimSpace(string(out))
}

// hostListener accepts connections on ip and counts them.
type hostListener struct {
	addr     string
	accepted atomic.Int32
}

func listenOn(t *testing.T, ip string) *hostListener {
	t.Helper()
	l, err := net.Listen("tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	h := &hostListener{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			_ = c.Close()
		}
	}()
	return h
}

// primaryIPv4 is the host address of the default route (no packet is sent).
func primaryIPv4() string {
	c, err := net.Dial("udp4", "1.1.1.1:53")
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// TestNetworkedSessionIsolation: a session with network has a default
// route (and DNS and the internet where the host has them) but reaches
// nothing of the host (the bridge's gateway, the host's other addresses,
// the manager and the agent listening on all of them) and not another
// session.
func TestNetworkedSessionIsolation(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the agent of this test runs as this user, not root: it cannot install the isolation rules (TestNetworkedSessionRefusedWithoutIsolation covers that case)")
	}
	// Manager and agent listen on every address, so that without the
	// isolation a session would reach them through the gateway.
	mgrAddr, err := freeAddrOn("0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	agentAddr, err := freeAddrOn("0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	srv := startOwnServer(t, mgrAddr, agentAddr)
	if l := logLine(srv, "sessions with network will be refused"); l != "" {
		t.Fatalf("the agent runs as root but cannot isolate: %s", l)
	}
	c := srv.Client()
	a, _ := newSessionWith(t, c, compat.CreateOptions{Network: true})
	b, bID := newSessionWith(t, c, compat.CreateOptions{Network: true})

	gateway := dockerField(t, "network", sessionNetwork, "{{range .IPAM.Config}}{{.Gateway}}{{end}}")
	if dockerField(t, "network", sessionNetwork, `{{index .Options "com.docker.network.bridge.name"}}`) != sessionBridge {
		t.Fatalf("network %s does not use bridge %s", sessionNetwork, sessionBridge)
	}
	bc := containersOf(t, bID)
	if len(bc) != 1 {
		t.Fatalf("containers of B: %v", bc)
	}
	bIP := dockerField(t, "container", bc[0], `{{(index .NetworkSettings.Networks "`+sessionNetwork+`").IPAddress}}`)

	// B serves on its address; the host reaches it (the rules let the
	// host in and the answers out).
	r := run(t, c, b, `
import socket, subprocess, sys, time
srv = "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', 9999))\ns.listen()\nwhile True:\n    c, _ = s.accept()\n    c.sendall(b'hi')\n    c.close()\n"
subprocess.Popen([sys.executable, "-c", srv], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", 9999), 1).close()
        print("listening")
        break
    except OSError:
        time.sleep(0.1)
`)
	if !strings.Contains(r.Stdout(), "listening") {
		t.Fatalf("B's server did not start: %s%s", r.Stdout(), r.Stderr())
	}
	if conn, err := net.DialTimeout("tcp4", net.JoinHostPort(bIP, "9999"), 3*time.Second); err != nil {
		t.Fatalf("the host cannot reach B's server at %s: %v", bIP, err)
	} else {
		got, _ := io.ReadAll(conn)
		conn.Close()
		if string(got) != "hi" {
			t.Fatalf("B's server answered %q", got)
		}
	}

	// What A must not reach.
	_, mgrPort, _ := net.SplitHostPort(mgrAddr)
	_, agentPort, _ := net.SplitHostPort(agentAddr)
	type target struct{ label, addr string }
	var targets []target
	var listeners []*hostListener
	hostIPs := map[string]string{"gateway": gateway}
	if ip := primaryIPv4(); ip != "" && ip != gateway {
		hostIPs["primary"] = ip
	}
	if out, err := exec.Command("docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "bridge").Output(); err == nil {
		if ip := strings.TrimSpace(string(out)); ip != "" && ip != hostIPs["primary"] {
			hostIPs["docker0"] = ip
		}
	}
	for name, ip := range hostIPs {
		l := listenOn(t, ip)
		listeners = append(listeners, l)
		targets = append(targets,
			target{"listener@" + name, l.addr},
			target{"manager@" + name, net.JoinHostPort(ip, mgrPort)},
			target{"agent@" + name, net.JoinHostPort(ip, agentPort)})
	}
	targets = append(targets, target{"session-b", net.JoinHostPort(bIP, "9999")})
	// Control: the host itself reaches its manager and agent on these
	// addresses, so a refusal below is the isolation's doing.
	for _, tg := range targets {
		if strings.HasPrefix(tg.label, "manager@") || strings.HasPrefix(tg.label, "agent@") {
			conn, err := net.DialTimeout("tcp4", tg.addr, 2*time.Second)
			if err != nil {
				t.Fatalf("control: the host cannot reach %s at %s: %v", tg.label, tg.addr, err)
			}
			conn.Close()
		}
	}
	// Where the host has DNS and the internet, so must the session.
	var names []string
	for _, n := range []string{"deb.debian.org", "example.com", "github.com"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := net.DefaultResolver.LookupHost(ctx, n); err == nil {
			names = append(names, n)
		}
		cancel()
	}
	internet := ""
	if conn, err := net.DialTimeout("tcp4", "1.1.1.1:80", 2*time.Second); err == nil {
		conn.Close()
		internet = "1.1.1.1:80"
	}

	probe := map[string][2]any{}
	for _, tg := range targets {
		h, p, _ := net.SplitHostPort(tg.addr)
		probe[tg.label] = [2]any{h, p}
	}
	pj, _ := json.Marshal(probe)
	nj, _ := json.Marshal(names)
	code := `
import json, socket, threading
targets = json.loads(` + "'''" + string(pj) + "'''" + `)
if "` + internet + `":
    h, p = "` + internet + `".split(":")
    targets["internet"] = [h, p]
res = {}
def attempt(label, host, port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        res[label] = "reached"
    except OSError as e:
        res[label] = "blocked-" + type(e).__name__
    finally:
        s.close()
threads = [threading.Thread(target=attempt, args=(k, v[0], v[1])) for k, v in targets.items()]
for th in threads: th.start()
for th in threads: th.join()
for k in sorted(res): print("connect", k, res[k])
routes = [l.split() for l in open("/proc/net/route").read().splitlines()[1:] if l.strip()]
print("default-route", any(r[1] == "00000000" for r in routes))
try:
    v6 = [l.split()[-1] for l in open("/proc/net/if_inet6").read().splitlines() if l.strip()]
except FileNotFoundError:
    v6 = []
print("ipv6", ",".join(sorted(set(v6))) or "none")
for n in json.loads('` + string(nj) + `'):
    try:
        socket.getaddrinfo(n, 80)
        print("resolve", n, "ok")
    except OSError as e:
        print("resolve", n, "failed", e)
`
	r = run(t, c, a, code)
	out := r.Stdout()
	t.Logf("from session A (gateway %s, B at %s):\n%s%s", gateway, bIP, out, r.Stderr())
	for _, tg := range targets {
		want := "connect " + tg.label + " blocked-"
		if !strings.Contains(out, want) {
			t.Errorf("A reached %s (%s), or did not try", tg.label, tg.addr)
		}
	}
	for _, l := range listeners {
		if n := l.accepted.Load(); n != 0 {
			t.Errorf("host listener %s accepted %d connections from the session", l.addr, n)
		}
	}
	if internet != "" && !strings.Contains(out, "connect internet reached") {
		t.Errorf("the host reaches %s but the session does not", internet)
	}
	if !strings.Contains(out, "default-route True") {
		t.Errorf("the networked session has no default route")
	}
	// lo's ::1 would be harmless; eth0 must have no (link-local) address.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ipv6 ") && strings.Contains(line, "eth") {
			t.Errorf("the session has IPv6 on its interface: %s", line)
		}
	}
	for _, n := range names {
		if !strings.Contains(out, "resolve "+n+" ok") {
			t.Errorf("the host resolves %s but the session does not", n)
		}
	}
	if len(names) == 0 {
		t.Log("this host resolves none of the probe names; DNS not checked")
	}
	if internet == "" {
		t.Log("this host does not reach 1.1.1.1:80; internet access not checked")
	}
}

// TestNetworkedSessionRefusedWithoutIsolation: when the agent cannot
// isolate networked sessions (here: told to use Docker's default bridge,
// which lets containers talk to each other), a session asking for network
// ends in ERROR saying why, and sessions without network still start.
func TestNetworkedSessionRefusedWithoutIsolation(t *testing.T) {
	t.Parallel()
	var srv *devserver.Server
	if os.Geteuid() == 0 {
		srv = startOwnServer(t, "", "", "--session-network", "bridge", "--session-bridge", "docker0")
	} else {
		srv = st.shared // not root: the shared agent cannot isolate either
	}
	c := srv.Client()
	name := uniqueName(t)
	ctx := testCtx(t, 90*time.Second)
	res, err := c.Create(ctx, compat.CreateOptions{Image: imageName, Name: name, Network: true})
	if err == nil {
		remember(res.ID())
		t.Cleanup(func() { destroyQuietly(t, c, res.ID()) })
		si := waitStatus(t, c, res.ID(), 60*time.Second, string(types.StatusError), string(types.StatusRunning))
		if si.Status != string(types.StatusError) || !strings.Contains(si.StatusInfo, "this agent cannot isolate networked sessions") ||
			!strings.Contains(si.StatusInfo, "ask the operator") {
			t.Fatalf("networked session without isolation: status %s (%s)", si.Status, si.StatusInfo)
		}
		t.Logf("status info: %s", si.StatusInfo)
	} else if !strings.Contains(err.Error(), "this agent cannot isolate networked sessions") {
		t.Fatalf("create: %v", err)
	}
	if res != nil {
		if ids := containersOf(t, res.ID()); len(ids) != 0 {
			t.Errorf("containers left of the refused session: %v", ids)
		}
	}
	if srv != st.shared {
		newSession(t, c) // no network: fine
	}
}

// TestScratchCap: /home/work is capped (here at 64 MiB): dd stops with
// ENOSPC, the session keeps working, deleting frees the space, uploads
// past the cap fail cleanly, and destroy leaves no mount or image on the
// host.
func TestScratchCap(t *testing.T) {
	t.Parallel()
	srv := startOwnServer(t, "", "", "--scratch-size", "64MiB")
	if l := logLine(srv, "scratch dirs are uncapped"); l != "" {
		t.Skipf("the agent reports scratch uncapped (it needs root, mkfs.ext4 and loop devices): %s", l)
	}
	c := srv.Client()
	name, id := newSession(t, c)
	cs := containersOf(t, id)
	if len(cs) != 1 {
		t.Fatalf("containers: %v", cs)
	}
	kdir := filepath.Join(srv.Opts.DataDir, "kernels", dockerField(t, "container", cs[0], `{{index .Config.Labels "`+types.LabelKernelID+`"}}`))
	work, img := filepath.Join(kdir, "work"), filepath.Join(kdir, "scratch.img")
	if !mountedAt(t, work) {
		t.Fatalf("%s is not a mount point", work)
	}
	if _, err := os.Stat(img); err != nil {
		t.Fatal(err)
	}

	r := run(t, c, name, `
import os, subprocess
st = os.statvfs("/home/work")
print("size-mib", st.f_blocks * st.f_frsize >> 20)
p = subprocess.run(["dd", "if=/dev/zero", "of=/home/work/fill", "bs=1M"], capture_output=True, text=True)
print("dd-rc", p.returncode)
print(p.stderr)
print("filled-mib", os.path.getsize("/home/work/fill") >> 20)
`)
	out := r.Stdout()
	t.Logf("fill:\n%s%s", out, r.Stderr())
	if !strings.Contains(out, "No space left on device") || strings.Contains(out, "dd-rc 0") {
		t.Fatalf("dd did not stop with ENOSPC:\n%s%s", out, r.Stderr())
	}
	var size, filled int
	for _, l := range strings.Split(out, "\n") {
		fmt.Sscanf(l, "size-mib %d", &size)
		fmt.Sscanf(l, "filled-mib %d", &filled)
	}
	// ext4's own metadata (journal, inode tables) takes part of a cap
	// this small.
	if size < 48 || size > 64 || filled < size-4 || filled > size {
		t.Errorf("file system of %d MiB took %d MiB, want about 64 for both", size, filled)
	}
	if r := run(t, c, name, "print(1)"); strings.TrimSpace(r.Stdout()) != "1" {
		t.Fatalf("session unusable when full: %+v", r)
	}

	// Deleting frees the space; uploads and downloads work on the capped
	// file system, and an upload that does not fit fails cleanly.
	r = run(t, c, name, `
import os
os.remove("/home/work/fill")
with open("/home/work/half", "wb") as f:
    f.write(b"x" * (40 << 20))
print("rewrote", os.path.getsize("/home/work/half") >> 20)
`)
	if !strings.Contains(r.Stdout(), "rewrote 40") {
		t.Fatalf("space not freed:\n%s%s", r.Stdout(), r.Stderr())
	}
	ctx := testCtx(t, 60*time.Second)
	if _, err := c.UploadMap(ctx, name, map[string]string{"up/hello.txt": "hello"}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if b, err := c.DownloadSingle(ctx, name, "up/hello.txt"); err != nil || string(b) != "hello" {
		t.Fatalf("download: %q, %v", b, err)
	}
	_, err := c.Upload(ctx, name, []compat.File{{Name: "big.bin", Data: make([]byte, 30<<20)}})
	if err == nil {
		t.Fatal("a 30 MiB upload into the space left (under 24 MiB) succeeded")
	}
	t.Logf("upload past the cap: %v", err)
	r = run(t, c, name, `import os; print(os.path.exists("/home/work/big.bin"), os.stat("/home/work/up/hello.txt").st_uid)`)
	if strings.TrimSpace(r.Stdout()) != "False 1000" {
		t.Errorf("after the uploads: %q %q", r.Stdout(), r.Stderr())
	}

	if _, err := c.Destroy(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	waitNoContainers(t, id, 30*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for mountedAt(t, work) || exists(img) {
		if time.Now().After(deadline) {
			t.Fatalf("after destroy: mounted %v, image left %v", mountedAt(t, work), exists(img))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if exists(kdir) {
		t.Errorf("kernel dir %s left", kdir)
	}
}

// mountedAt reports whether dir is a mount point on the host (this test
// process shares the agent's mount namespace).
func mountedAt(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
