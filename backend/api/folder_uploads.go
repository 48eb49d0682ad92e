package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/vfolder"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/sign"
)

// Resumable folder uploads (see vfolder.RequestUpload): a small protocol of
// our own in the spirit of tus, which Backend.AI's request-upload hands
// out. The offset travels in headers, so HEAD alone tells a client where
// to resume.
const (
	folderUploadRoute   = "/folders/:name/uploads/:token"
	headerUploadOffset  = "Upload-Offset"
	headerUploadLength  = "Upload-Length"
	headerUploadDone    = "Upload-Complete"
	uploadChunkMimeType = "application/offset+octet-stream"
)

func (h *Handlers) registerFolderUploads(g *echo.Group) {
	g.POST("/folders/:name/request-upload", h.folderRequestUpload)
	g.HEAD(folderUploadRoute, h.folderUploadHead)
	g.GET(folderUploadRoute, h.folderUploadGet)
	g.PATCH(folderUploadRoute, h.folderUploadPatch)
	g.DELETE(folderUploadRoute, h.folderUploadAbort)
}

// uncappedChunk tells LimitBody that c is a PATCH of a resumable upload:
// streamed to disk and bounded by the size declared at request-upload, so
// not by the JSON body cap. Old API versions that sign the body's hash
// keep the cap, since authenticate reads their whole body into memory.
func uncappedChunk(c echo.Context) bool {
	if c.Path() != folderUploadRoute || c.Request().Method != http.MethodPatch {
		return false
	}
	v, err := sign.ParseVersion(c.Request().Header.Get(apitypes.HeaderVersion))
	return err == nil && !v.HashesBody()
}

func (h *Handlers) folderRequestUpload(c echo.Context) error {
	var req struct {
		Path string `json:"path"`
		Size *int64 `json:"size"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	if req.Size == nil {
		return fmt.Errorf("field \"size\" (the file's length in bytes) is required: %w", errdefs.ErrInvalidArgument)
	}
	name := c.Param("name")
	up, err := h.VFolders.RequestUpload(c.Request().Context(), owner(c).AccessKey, name, req.Path, *req.Size)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"token": up.Token, "url": "/folders/" + url.PathEscape(name) + "/uploads/" + up.Token,
		"offset": up.Offset, "size": up.Size, "path": up.Path,
	})
}

func setUploadHeaders(c echo.Context, up vfolder.PendingUpload) {
	hd := c.Response().Header()
	hd.Set(headerUploadOffset, strconv.FormatInt(up.Offset, 10))
	hd.Set(headerUploadLength, strconv.FormatInt(up.Size, 10))
	// The offset changes with every PATCH: never serve it from a cache.
	hd.Set(echo.HeaderCacheControl, "no-store")
}

func (h *Handlers) folderUploadHead(c echo.Context) error {
	up, err := h.VFolders.UploadStatus(c.Request().Context(), owner(c).AccessKey, c.Param("name"), c.Param("token"))
	if err != nil {
		return err
	}
	setUploadHeaders(c, up)
	return c.NoContent(http.StatusOK)
}

func (h *Handlers) folderUploadGet(c echo.Context) error {
	up, err := h.VFolders.UploadStatus(c.Request().Context(), owner(c).AccessKey, c.Param("name"), c.Param("token"))
	if err != nil {
		return err
	}
	setUploadHeaders(c, up)
	return c.JSON(http.StatusOK, map[string]any{"offset": up.Offset, "size": up.Size, "path": up.Path, "created_at": up.CreatedAt})
}

// folderUploadPatch appends the raw body at Upload-Offset, streaming it to
// disk. 204 with the new Upload-Offset; the PATCH that brings the upload to
// its size also lands the file and adds Upload-Complete: 1.
func (h *Handlers) folderUploadPatch(c echo.Context) error {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); auth.MediaType(ct) != uploadChunkMimeType {
		return fmt.Errorf("send upload data with Content-Type %s, not %q: %w", uploadChunkMimeType, ct, errdefs.ErrInvalidArgument)
	}
	raw := r.Header.Get(headerUploadOffset)
	offset, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || offset < 0 {
		return fmt.Errorf("header %s must be the byte offset the body starts at (ask HEAD for it), not %q: %w", headerUploadOffset, raw, errdefs.ErrInvalidArgument)
	}
	up, complete, err := h.VFolders.WriteUpload(r.Context(), owner(c).AccessKey, c.Param("name"), c.Param("token"), offset, r.ContentLength, r.Body)
	var oe *vfolder.OffsetError
	switch {
	case errors.As(err, &oe):
		if oe.Offset >= 0 {
			c.Response().Header().Set(headerUploadOffset, strconv.FormatInt(oe.Offset, 10))
		}
	case up.Token != "":
		setUploadHeaders(c, up)
	}
	if err != nil {
		return err
	}
	if complete {
		c.Response().Header().Set(headerUploadDone, "1")
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) folderUploadAbort(c echo.Context) error {
	if err := h.VFolders.AbortUpload(c.Request().Context(), owner(c).AccessKey, c.Param("name"), c.Param("token")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
