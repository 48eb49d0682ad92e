package runner

import "encoding/binary"

// orderedFD is the descriptor number at which programs find the ordered
// output pipe (the first of exec.Cmd's ExtraFiles), announced to the
// kernel's LD_PRELOAD hook through orderedEnv.
const (
	orderedFD  = 3
	orderedEnv = "BAI_ORDERED_FD=3"
)

// recordDecoder splits the hook's ordered-output records (agent/hook:
// tag '1' or '2', a 4-byte little-endian length, the data) as they arrive
// in arbitrary chunks, and hands each piece of data to its stream in order.
type recordDecoder struct {
	buf []byte
}

// feed consumes p; emit gets the stream index (0 stdout, 1 stderr) and data.
func (d *recordDecoder) feed(p []byte, emit func(stream int, data []byte)) {
	d.buf = append(d.buf, p...)
	for len(d.buf) >= 5 {
		n := int(binary.LittleEndian.Uint32(d.buf[1:5]))
		if len(d.buf) < 5+n {
			break
		}
		stream := 0
		if d.buf[0] == '2' {
			stream = 1
		}
		emit(stream, d.buf[5:5+n])
		d.buf = d.buf[5+n:]
	}
	if len(d.buf) == 0 {
		d.buf = d.buf[:0:0] // drop a large backing array after a burst
	}
}
