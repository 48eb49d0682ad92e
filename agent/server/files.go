package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// Workspaces gives access to kernels' work dirs; the kernel manager
// implements it. The file routes exist only when the Kernels value passed
// to NewHandler implements it too.
type Workspaces interface {
	Workspace(id string) (*kernel.Workspace, error)
}

// uploadPathSuffix marks the route exempt from the general body limit.
const uploadPathSuffix = "/upload"

func registerFiles(e *echo.Echo, k Kernels) {
	ws, ok := k.(Workspaces)
	if !ok {
		return
	}
	f := &fileHandlers{ws: ws}
	e.POST("/v1/kernels/:id/upload", f.upload)
	e.POST("/v1/kernels/:id/download", f.download)
	e.GET("/v1/kernels/:id/download_single", f.downloadSingle)
	e.GET("/v1/kernels/:id/files", f.list)
}

// skipBodyLimit exempts uploads from maxBody: they are bounded by
// aproto.UploadMaxBody and the per-file limits instead.
func skipBodyLimit(c echo.Context) bool {
	return strings.HasSuffix(c.Request().URL.Path, uploadPathSuffix)
}

type fileHandlers struct {
	ws Workspaces
}

func (f *fileHandlers) upload(c echo.Context) error {
	r := c.Request()
	if r.ContentLength > aproto.UploadMaxBody {
		return fmt.Errorf("upload of %d bytes is larger than %d: %w", r.ContentLength, aproto.UploadMaxBody, errdefs.ErrTooLarge)
	}
	body := http.MaxBytesReader(c.Response(), r.Body, aproto.UploadMaxBody)
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return fmt.Errorf("the upload must be multipart/form-data with a boundary: %w", errdefs.ErrInvalidArgument)
	}
	ws, err := f.ws.Workspace(c.Param("id"))
	if err != nil {
		return err
	}
	defer ws.Close()
	files, err := ws.Upload(multipart.NewReader(body, params["boundary"]))
	if err != nil {
		// Read the rest so the sender sees this answer rather than a
		// connection reset in the middle of its body.
		_, _ = io.Copy(io.Discard, body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("upload larger than %d bytes: %w", mbe.Limit, errdefs.ErrTooLarge)
		}
		return err
	}
	return c.JSON(http.StatusOK, aproto.UploadResult{Files: files})
}

func (f *fileHandlers) download(c echo.Context) error {
	var req aproto.Download
	if err := bind(c, &req); err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return fmt.Errorf("field \"files\" must list at least one path: %w", errdefs.ErrInvalidArgument)
	}
	ws, err := f.ws.Workspace(c.Param("id"))
	if err != nil {
		return err
	}
	defer ws.Close()
	// Check every path first, so a bad one is a clean error answer.
	for _, p := range req.Files {
		if _, err := ws.Stat(p); err != nil {
			return err
		}
	}
	mw := multipart.NewWriter(c.Response())
	c.Response().Header().Set(echo.HeaderContentType, "multipart/mixed; boundary="+mw.Boundary())
	c.Response().WriteHeader(http.StatusOK)
	for _, p := range req.Files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/x-tar")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": kernel.ArchiveName(p) + ".tar"}))
		pw, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if err := ws.WriteTar(pw, p); err != nil {
			return err // the answer is cut short; the client sees a broken multipart
		}
	}
	return mw.Close()
}

func (f *fileHandlers) downloadSingle(c echo.Context) error {
	name := c.QueryParam("file")
	if name == "" {
		return fmt.Errorf("query parameter \"file\" is required: %w", errdefs.ErrInvalidArgument)
	}
	ws, err := f.ws.Workspace(c.Param("id"))
	if err != nil {
		return err
	}
	defer ws.Close()
	fh, fi, err := ws.OpenRegular(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "application/octet-stream")
	hdr.Set(echo.HeaderContentLength, strconv.FormatInt(fi.Size(), 10))
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.CopyN(c.Response(), fh, fi.Size())
	return err
}

func (f *fileHandlers) list(c echo.Context) error {
	ws, err := f.ws.Workspace(c.Param("id"))
	if err != nil {
		return err
	}
	defer ws.Close()
	out, err := ws.List(c.QueryParam("path"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
