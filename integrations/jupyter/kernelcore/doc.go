// Package kernelcore is what bai's two ways into Jupyter share: the
// Jupyter kernel over ZeroMQ (package jupyter, `bai jupyter kernel`) and
// the Jupyter Kernel Gateway over REST and WebSocket (package jupytergw,
// `bai jupyter-gateway`). Both run notebook cells in a bai session, and a
// notebook must look the same whichever of them runs it, so everything
// that does not depend on how messages travel lives here, once:
//
//   - running a cell over the execute stream and turning its console
//     items into stream and display_data outputs as they arrive, with a
//     Python traceback that ends the run held back for the error message
//     (Run, Translator, MediaBundle, ParsePythonTraceback, Exception);
//   - the contents of replies that need no transport: is_complete,
//     complete, kernel_info (IsCompleteReply, CompleteReply, KernelInfo);
//   - naming: kernel names, display names, kernelspecs and language_info
//     of the manager's images (KernelNames, Kernelspec, LanguageInfo).
//
// It depends on the Go SDK only, not on ZeroMQ or HTTP servers, so the
// gateway does not link the kernel's sockets.
package kernelcore

// ProtocolVersion is the Jupyter messaging protocol version bai's kernels
// speak.
const ProtocolVersion = "5.3"
