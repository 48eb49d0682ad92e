//go:build !linux

package cli

import "os"

// makeRaw is not implemented outside Linux: `bai terminal` pipes stdin
// as it does when stdin is not a terminal.
func makeRaw(*os.File) (restore func(), ok bool) { return nil, false }

func termSize(*os.File) (cols, rows int, ok bool) { return 0, 0, false }

func onResize(func()) (stop func()) { return func() {} }
