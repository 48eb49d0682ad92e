package runner

import (
	"encoding/binary"
	"testing"
)

func record(tag byte, s string) []byte {
	b := []byte{tag, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], uint32(len(s)))
	return append(b, s...)
}

func TestRecordDecoder(t *testing.T) {
	var all []byte
	all = append(all, record('1', "out1\n")...)
	all = append(all, record('2', "err1\n")...)
	all = append(all, record('1', "out2\n")...)
	all = append(all, record('1', "")...)
	// Any chunking gives the same items in the same order.
	for size := 1; size <= len(all); size++ {
		var d recordDecoder
		var got []string
		for i := 0; i < len(all); i += size {
			end := min(i+size, len(all))
			d.feed(all[i:end], func(stream int, data []byte) {
				got = append(got, []string{"o:", "e:"}[stream]+string(data))
			})
		}
		want := []string{"o:out1\n", "e:err1\n", "o:out2\n", "o:"}
		if len(got) != len(want) {
			t.Fatalf("chunk %d: got %q", size, got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("chunk %d: got %q", size, got)
			}
		}
	}
}
