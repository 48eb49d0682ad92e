//go:build !linux

package cli

import "io"

// disableEcho is not implemented outside Linux: input is read in plain.
func disableEcho(io.Reader) (restore func(), ok bool) { return nil, false }
