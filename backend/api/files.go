package api

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/agentrpc"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// uploadMaxBody caps a whole upload request; the agent enforces the file
// count and per-file limits as the parts stream through.
const uploadMaxBody = aproto.UploadMaxBody

// isUpload tells LimitBody that the route streams files and has its own
// limits.
func isUpload(c echo.Context) bool {
	return strings.HasSuffix(c.Path(), "/:name/upload")
}

func (h *Handlers) registerFiles(g *echo.Group, p string) {
	g.POST(p+"/:name/upload", h.upload)
	g.GET(p+"/:name/download", h.download)
	g.POST(p+"/:name/download", h.download)
	g.GET(p+"/:name/download_single", h.downloadSingle)
	g.GET(p+"/:name/files", h.listFiles)
}

// upload passes the multipart/form-data body through to the agent without
// buffering it; each file part's filename is its path under /home/work.
func (h *Handlers) upload(c echo.Context) error {
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return fmt.Errorf("upload files as multipart/form-data (one part per file, its filename the path under /home/work): %w", errdefs.ErrInvalidArgument)
	}
	if _, err := h.Sessions.Upload(r.Context(), owner(c).AccessKey, c.Param("name"), r.Header.Get(echo.HeaderContentType), r.ContentLength, r.Body); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// fileParams reads the list-valued query parameter key, else the JSON body's
// field of that name (a string or a list of strings), as Backend.AI's
// clients send it on GET too.
func fileParams(c echo.Context, key string) ([]string, error) {
	if vs := c.QueryParams()[key]; len(vs) > 0 {
		return vs, nil
	}
	var body map[string]json.RawMessage
	if err := bind(c, &body, false); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("field %q must be a string or a list of strings: %w", key, errdefs.ErrInvalidArgument)
	}
	return many, nil
}

// download answers multipart/mixed with one tar archive per requested path,
// streamed from the agent.
func (h *Handlers) download(c echo.Context) error {
	files, err := fileParams(c, "files")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("name the paths to download in \"files\" (JSON body or ?files=): %w", errdefs.ErrInvalidArgument)
	}
	st, err := h.Sessions.Download(c.Request().Context(), owner(c).AccessKey, c.Param("name"), files)
	if err != nil {
		return err
	}
	return relay(c, st)
}

// downloadSingle answers one regular file's bytes.
func (h *Handlers) downloadSingle(c echo.Context) error {
	files, err := fileParams(c, "file")
	if err != nil {
		return err
	}
	if len(files) != 1 || files[0] == "" {
		return fmt.Errorf("name one file in \"file\" (?file= or JSON body): %w", errdefs.ErrInvalidArgument)
	}
	st, err := h.Sessions.DownloadSingle(c.Request().Context(), owner(c).AccessKey, c.Param("name"), files[0])
	if err != nil {
		return err
	}
	return relay(c, st)
}

// relay copies an agent's streamed answer to the client.
func relay(c echo.Context, st *agentrpc.Stream) error {
	defer st.Body.Close()
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, st.ContentType)
	if st.ContentLength >= 0 {
		hdr.Set(echo.HeaderContentLength, strconv.FormatInt(st.ContentLength, 10))
	}
	c.Response().WriteHeader(http.StatusOK)
	_, err := io.Copy(c.Response(), st.Body)
	return err
}

// listFiles answers Backend.AI's listing shape, whose "files" is a JSON
// text of the entries.
func (h *Handlers) listFiles(c echo.Context) error {
	paths, err := fileParams(c, "path")
	if err != nil {
		return err
	}
	p := ""
	if len(paths) > 0 {
		p = paths[0]
	}
	l, err := h.Sessions.ListFiles(c.Request().Context(), owner(c).AccessKey, c.Param("name"), p)
	if err != nil {
		return err
	}
	if l.Files == nil {
		l.Files = []aproto.FileEntry{}
	}
	b, err := json.Marshal(l.Files)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"files": string(b), "errors": "", "abspath": l.Abspath})
}
