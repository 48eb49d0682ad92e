// Package python holds the Python client library for the bai API
// (bai_client, standard library only). It is a Go package only so that
// `go test ./...` runs the library's unit tests (signing against the
// vectors of common/sign, WebSocket framing, SSE, multipart and tar
// parsing) with Debian's python3; the live tests against a real server run
// from e2e/client_python_test.go.
package python
