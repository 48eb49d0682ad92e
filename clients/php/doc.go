// Package php holds the PHP client library for the bai API (namespace
// Bai\Client, no Composer packages needed). It is a Go package only so that
// `go test ./...` runs the library's unit tests (signing against the
// vectors of common/sign, WebSocket framing, SSE, multipart and tar
// parsing) with Debian's php-cli; the live tests against a real server run
// from e2e/client_php_test.go.
package php
