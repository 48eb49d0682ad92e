package cli

import (
	"fmt"
	"strconv"
)

// statLines renders a session's last statistics (lastStat: cpu_used in
// milliseconds, mem and mem_max in bytes, net_rx_bytes, net_tx_bytes,
// io_read_bytes, io_write_bytes) as labelled lines for `session info`.
// Missing statistics give no line, and so does an empty map.
func statLines(st map[string]any) [][2]string {
	var out [][2]string
	if ms, ok := statNum(st["cpu_used"]); ok {
		out = append(out, [2]string{"cpu time", cpuTime(ms)})
	}
	if b, ok := statNum(st["mem"]); ok {
		v := mib(b)
		if peak, ok := statNum(st["mem_max"]); ok && peak > 0 {
			v += " (peak " + mib(peak) + ")"
		}
		out = append(out, [2]string{"memory", v})
	}
	rx, okRx := statNum(st["net_rx_bytes"])
	tx, okTx := statNum(st["net_tx_bytes"])
	if okRx || okTx {
		out = append(out, [2]string{"network", "rx " + humanBytes(rx) + ", tx " + humanBytes(tx)})
	}
	rd, okRd := statNum(st["io_read_bytes"])
	wr, okWr := statNum(st["io_write_bytes"])
	if okRd || okWr {
		out = append(out, [2]string{"disk io", "read " + humanBytes(rd) + ", write " + humanBytes(wr)})
	}
	return out
}

// statNum reads a number from decoded JSON (float64) or a numeric string.
func statNum(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// cpuTime renders milliseconds of cpu time: "850ms", "12.35s", "3m25.0s".
func cpuTime(ms float64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	case ms < 60_000:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	m := int(ms / 60_000)
	return fmt.Sprintf("%dm%.1fs", m, (ms-float64(m)*60_000)/1000)
}

// mib renders bytes in MiB with one decimal.
func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// humanBytes renders bytes with a binary unit: "0 B", "700 B", "1.5 KiB".
func humanBytes(b float64) string {
	if b < 1024 {
		return fmt.Sprintf("%.0f B", b)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := b / 1024
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
