//go:build !webui

package web

import (
	"io/fs"
	"testing/fstest"
)

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bai</title></head>
<body><h1>bai</h1><p>The web app was not built into this binary. Build it with
<code>make build</code> (it needs Node.js and npm), or use the API and the
<code>bai</code> CLI.</p></body></html>
`

func dist() (fs.FS, bool) {
	return fstest.MapFS{"index.html": {Data: []byte(placeholder)}}, false
}
