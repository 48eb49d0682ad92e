// Package web holds the browser app (the SPA in src/, built by npm into
// dist/) that the manager serves at /.
//
// The built files are embedded only when the binary is built with the
// webui tag (make build does that after `npm run build`), so the backend's
// Go tests and a plain `go build` need no Node.js: without the tag, Dist
// returns a one-page placeholder that says how to build the app.
package web

import "io/fs"

// Dist returns the app's files (index.html at the root, hashed bundles
// under assets/) and whether they are the real build (false: the
// placeholder).
func Dist() (fs.FS, bool) { return dist() }
