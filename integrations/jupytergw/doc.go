// Package jupytergw is a Jupyter Kernel Gateway in front of bai: it serves
// the kernels REST and WebSocket API of jupyter_server (what Jupyter Kernel
// Gateway and Enterprise Gateway serve), so that a Jupyter server started
// with --gateway-url, JupyterLab or any Jupyter client runs its kernels as
// Backend.AI sessions. It exists because Jupyter's world speaks its own
// messaging protocol, while a bai session speaks the execute API; the
// gateway translates one into the other with the Go SDK and its own
// keypair, and so sees only that keypair's sessions.
//
// A kernel is a session named <prefix><kernel id> that this gateway
// created; it keeps the kernel id to session mapping in memory, so a
// session it did not create (or created before a restart of the gateway)
// is not a kernel here (404). Its lifecycle:
//
//	POST /api/kernels ──▶ session created ──▶ idle ◀──────────────┐
//	                                           │ execute_request   │ reply
//	                                           ▼                   │
//	                                          busy ────────────────┘
//	  restart (REST or shutdown_request{restart}) : idle ─▶ restarting ─▶ idle
//	  DELETE, shutdown_request, gateway exit, session ended elsewhere
//	          ─▶ session destroyed, kernel forgotten (404 from then on)
//
// Over /api/kernels/{id}/channels each execute_request becomes one run on
// the session's execute WebSocket stream, exactly as `bai jupyter kernel`
// runs it (package kernelcore does both): its console items become iopub
// stream and display_data messages within about 200 ms, a failed run an
// error message made of the Python traceback it ended with, and a
// waiting-input step an input_request on the stdin channel answered by
// input_reply. Only the transport (JSON frames on one WebSocket, kernels
// in a table behind a REST API) is this package's own.
package jupytergw
