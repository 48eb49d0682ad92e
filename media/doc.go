// Package media holds what bai knows about the rich output that programs in
// a kernel produce: the kernel-side library, and the Go sanitiser that
// makes SVG from a kernel safe to show.
//
// The kernel-side library is Python rather than Go: python/bai_media is
// copied into the kernel-lib directory that the agent mounts at
// /opt/bai/lib/python in every session container. Programs running in a
// kernel use it to send images, HTML and animated drawings to the console
// through the runner's __bai__ channel. `go test ./...` also runs the
// library's Python unit tests (see media_test.go); python/README.md
// documents the Python API and the application/x-bai-drawing JSON format.
//
// SanitizeSVG turns an image/svg+xml document written by user code, which
// is hostile, into one that a browser may show with <img> or inline: it
// parses the input strictly with encoding/xml (no DTD, no entities beyond
// XML's own) and writes a new document from allowlists of SVG elements,
// attributes and CSS, with references limited to same-document fragments
// and raster data: URIs on <image>. Script, event handlers, foreignObject,
// external resources and CSS that loads or runs anything are dropped.
package media
