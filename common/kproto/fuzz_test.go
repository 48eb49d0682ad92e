package kproto_test

import (
	"bytes"
	"testing"

	"baigo.dev/bai/common/kproto"
)

// FuzzDecode: the agent⇄runner frame decoder refuses anything but one
// short non-empty op frame and one payload frame, and what it accepts
// encodes back to the same frames. The fuzz input is split into frames at
// every 0xff byte.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("execute\xff{\"code\":\"print(1)\"}"))
	f.Add([]byte("interrupt\xff"))
	f.Add([]byte("\xffpayload"))
	f.Add([]byte("a\xffb\xffc"))
	f.Add([]byte(""))
	f.Add(bytes.Repeat([]byte("o"), 65))
	f.Fuzz(func(t *testing.T, in []byte) {
		frames := bytes.Split(in, []byte{0xff})
		m, err := kproto.Decode(frames)
		if err != nil {
			return
		}
		if len(frames) != 2 || m.Op == "" || len(m.Op) > 64 {
			t.Fatalf("accepted %q as %+v", frames, m)
		}
		again := kproto.Encode(m.Op, m.Payload)
		if !bytes.Equal(again[0], frames[0]) || !bytes.Equal(again[1], frames[1]) {
			t.Fatalf("round trip of %q: %q", frames, again)
		}
	})
}
