// Package media holds the kernel-side rich-output library, which is Python
// rather than Go: python/bai_media is copied into the kernel-lib directory
// that the agent mounts at /opt/bai/lib/python in every session container.
// Programs running in a kernel use it to send images, HTML and animated
// drawings to the console through the runner's __bai__ channel.
//
// The Go package exists so that `go test ./...` also runs the library's
// Python unit tests (see media_test.go); python/README.md documents the
// Python API and the application/x-bai-drawing JSON format.
package media
