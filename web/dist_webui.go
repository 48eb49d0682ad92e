//go:build webui

package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var built embed.FS

func dist() (fs.FS, bool) {
	sub, err := fs.Sub(built, "dist")
	if err != nil {
		panic(err) // cannot happen: the directive above names dist
	}
	return sub, true
}
