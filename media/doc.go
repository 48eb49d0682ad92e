// Package media holds what bai knows about the rich output that programs in
// a kernel produce: the kernel-side library, the Go sanitiser that makes
// SVG from a kernel safe to show, and the Go renderer that turns an
// animated drawing into an SVG for clients without JavaScript.
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
// Animation elements are kept only while they animate a presentation or
// geometry attribute (never href, an event handler, style or class) with
// values that load nothing. The manager passes every image/svg+xml
// console item through it before a client sees it.
//
// RenderDrawing turns the application/x-bai-drawing documents of one
// canvas (a snapshot, then diffs) into one standalone SVG document that
// plays the drawing with SMIL: one element per shape, in drawing order,
// and one discrete <animate> (or <animateTransform>) per attribute that
// changes, keyed to the documents' times (or one every 100 ms), played
// once or looped. Its attributes hold the last frame, so a viewer without
// SMIL shows the finished drawing. Every value is validated (finite and
// bounded numbers, hex colours only, plain font names, escaped text);
// what cannot be drawn is skipped and listed in an XML comment, and the
// rest of the output is a fixed point of SanitizeSVG. Commands, documents,
// input and output sizes are capped, so a stream of millions of commands
// is refused with errdefs.ErrTooLarge instead of growing a huge SVG. The
// output is deterministic, which the golden files in testdata/drawing
// rely on (`go test ./media -run Golden -update` rewrites them);
// `bai run --media-dir` uses it to save drawings.
package media
