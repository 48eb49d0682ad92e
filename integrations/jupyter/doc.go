// Package jupyter makes every bai image usable as a Jupyter kernel. Jupyter
// front ends (Notebook, Lab, console, nbconvert) start a kernel process
// per notebook and talk to it over ZeroMQ; this package is that process:
// it speaks the Jupyter messaging protocol (v5.3) itself and forwards the
// work to a bai session through the Go SDK, so code typed in a notebook
// runs in a sandboxed container on the cluster.
//
//	Jupyter front end                     bai jupyter kernel              manager
//	  shell   DEALER ──▶ ROUTER ─┐
//	  control DEALER ──▶ ROUTER ─┤  execute_request ──▶ execute stream (WebSocket)
//	  stdin   DEALER ◀─▶ ROUTER  │  input_request   ◀── waiting-input
//	  iopub   SUB    ◀── PUB    ◀┘  stream, display_data, error, status
//	  hb      REQ    ◀─▶ REP (echo)
//
// Lifecycle of one kernel process:
//
//	start ──▶ bind sockets ──▶ create session (in the background)
//	                 │
//	                 ▼
//	        serve requests ──(shutdown_request | SIGTERM | parent gone)──▶ destroy session ──▶ exit
//
// Requests that need the session (execute, complete) wait for its creation;
// when it failed they answer with the reason as an error, so the user sees
// it in the notebook rather than a kernel that silently died.
//
// The wire format (identities, the <IDS|MSG> delimiter, the HMAC-SHA256
// signature over header, parent header, metadata and content) lives in
// wire.go; kernelspecs for `bai jupyter install` in kernelspec.go. What
// the Jupyter Kernel Gateway (package jupytergw) shows the same way, the
// run of a cell with its translation of bai console items into Jupyter
// outputs and Python tracebacks into error messages, the is_complete
// heuristic, completion ranges and the naming of kernels, lives in the
// subpackage kernelcore.
package jupyter
