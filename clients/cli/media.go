package cli

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strings"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/media"
)

// mediaExts are the media types `bai run --media-dir` saves, with the
// file extension of each; image data is base64 on the wire.
var mediaExts = map[string]string{
	"image/png":     ".png",
	"image/jpeg":    ".jpg",
	"image/gif":     ".gif",
	"image/svg+xml": ".svg",
	"text/html":     ".html",
	"text/plain":    ".txt",
}

// base64Media are the types whose data is base64.
var base64Media = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true}

// mediaSaver writes the media items of a run into a directory, as they
// arrive: media-N.EXT for images, HTML and text, and, once the run is
// over, drawing-N.svg for each drawing (application/x-bai-drawing
// streams, one per canvas, rendered by media.RenderDrawing). Names never
// come from the program's output, and an existing file is never
// overwritten: the next free number is taken.
type mediaSaver struct {
	dir    string
	stderr io.Writer
	last   map[string]int // the last number used, by file name prefix
	// Drawing documents by canvas id, canvases in order of appearance.
	drawings map[string][][]byte
	canvases []string
}

func newMediaSaver(dir string, stderr io.Writer) (*mediaSaver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--media-dir: %w", err)
	}
	return &mediaSaver{dir: dir, stderr: stderr, last: map[string]int{}, drawings: map[string][][]byte{}}, nil
}

// save handles one media or html console item and reports what it did
// with it, for the line the CLI prints about the item.
func (m *mediaSaver) save(it client.ConsoleItem) string {
	typ := it.MIME
	if it.Type == "html" {
		typ = "text/html"
	}
	if mt, _, err := mime.ParseMediaType(typ); err == nil {
		typ = mt
	}
	if typ == media.DrawingMIME {
		var head struct {
			Canvas string `json:"canvas"`
		}
		if err := json.Unmarshal([]byte(it.Text), &head); err != nil || head.Canvas == "" {
			return "not saved: not a drawing document"
		}
		if _, ok := m.drawings[head.Canvas]; !ok {
			m.canvases = append(m.canvases, head.Canvas)
		}
		m.drawings[head.Canvas] = append(m.drawings[head.Canvas], []byte(it.Text))
		return "" // saved with the others of its canvas at the end
	}
	ext, ok := mediaExts[typ]
	if !ok {
		return "not saved: bai does not save " + typ
	}
	data := []byte(it.Text)
	if base64Media[typ] {
		var err error
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(it.Text)); err != nil {
			return "not saved: its data is not base64"
		}
	}
	path, err := m.write("media", ext, data)
	if err != nil {
		return "not saved: " + err.Error()
	}
	return "saved as " + path
}

// finish renders and writes each drawing, printing where it went.
func (m *mediaSaver) finish() {
	for _, id := range m.canvases {
		docs := m.drawings[id]
		svg, err := media.RenderDrawing(docs, media.DrawingOptions{Canvas: id})
		if err != nil {
			fmt.Fprintf(m.stderr, "bai: drawing of %d documents not saved: %v\n", len(docs), err)
			continue
		}
		path, err := m.write("drawing", ".svg", svg)
		if err != nil {
			fmt.Fprintf(m.stderr, "bai: drawing not saved: %v\n", err)
			continue
		}
		plural := "s"
		if len(docs) == 1 {
			plural = ""
		}
		fmt.Fprintf(m.stderr, "[drawing, %d document%s] saved as %s\n", len(docs), plural, path)
	}
	m.drawings, m.canvases = map[string][][]byte{}, nil
}

// write creates the first free PREFIX-N.EXT in the directory.
func (m *mediaSaver) write(prefix, ext string, data []byte) (string, error) {
	for range 100_000 {
		m.last[prefix]++
		path := filepath.Join(m.dir, fmt.Sprintf("%s-%d%s", prefix, m.last[prefix], ext))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
			return "", err
		}
		return path, nil
	}
	return "", fmt.Errorf("no free file name in %s", m.dir)
}
