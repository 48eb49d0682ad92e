package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// registerFolders mounts the virtual folder routes (Backend.AI's names
// where it has them). Static routes win over /folders/:name in echo, so a
// folder may still be called "invitations".
func (h *Handlers) registerFolders(g *echo.Group) {
	if h.VFolders == nil {
		return
	}
	g.POST("/folders", h.folderCreate)
	g.GET("/folders", h.folderList)
	g.GET("/folders/invitations/list", h.folderInvitations)
	g.POST("/folders/invitations/accept", h.folderAnswer(true))
	g.DELETE("/folders/invitations/delete", h.folderAnswer(false))
	g.GET("/folders/:name", h.folderInfo)
	g.DELETE("/folders/:name", h.folderDelete)
	g.POST("/folders/:name/rename", h.folderRename)
	g.GET("/folders/:name/files", h.folderFiles)
	g.POST("/folders/:name/mkdir", h.folderMkdir)
	g.POST("/folders/:name/upload", h.folderUpload)
	g.GET("/folders/:name/download", h.folderDownload)
	g.POST("/folders/:name/move_file", h.folderMove)
	g.DELETE("/folders/:name/delete_files", h.folderDeleteFiles)
	g.POST("/folders/:name/invite", h.folderInvite)
	h.registerFolderUploads(g)
}

func (h *Handlers) folderCreate(c echo.Context) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	ak := owner(c).AccessKey
	f, err := h.VFolders.Create(c.Request().Context(), ak, req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, f.Info(ak))
}

func (h *Handlers) folderList(c echo.Context) error {
	ak := owner(c).AccessKey
	fs, err := h.VFolders.List(c.Request().Context(), ak)
	if err != nil {
		return err
	}
	out := []apitypes.VFolder{}
	for _, f := range fs {
		out = append(out, f.Info(ak))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handlers) folderInfo(c echo.Context) error {
	ak := owner(c).AccessKey
	f, err := h.VFolders.Get(c.Request().Context(), ak, c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f.Info(ak))
}

func (h *Handlers) folderDelete(c echo.Context) error {
	if err := h.VFolders.Delete(c.Request().Context(), owner(c).AccessKey, c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) folderRename(c echo.Context) error {
	var req struct {
		NewName string `json:"new_name"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	if err := h.VFolders.Rename(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req.NewName); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) folderFiles(c echo.Context) error {
	files, err := h.VFolders.ListFiles(c.Request().Context(), owner(c).AccessKey, c.Param("name"), c.QueryParam("path"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": files})
}

func (h *Handlers) folderMkdir(c echo.Context) error {
	var req struct {
		Path string `json:"path"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	if err := h.VFolders.Mkdir(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req.Path); err != nil {
		return err
	}
	return c.NoContent(http.StatusCreated)
}

// folderUpload stores each file part of a multipart/form-data body (its
// filename the path in the folder) as it streams in; nothing is buffered in
// memory, and each file appears only once complete.
func (h *Handlers) folderUpload(c echo.Context) error {
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return fmt.Errorf("upload files as multipart/form-data (one part per file, its filename the path in the folder): %w", errdefs.ErrInvalidArgument)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("malformed multipart body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	up, err := h.VFolders.NewUploader(r.Context(), owner(c).AccessKey, c.Param("name"))
	if err != nil {
		return err
	}
	defer up.Close()
	var written []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("malformed multipart body: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		// The filename as sent: Part.FileName would drop the directories
		// of "sub/dir/f.txt".
		_, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		name := ps["filename"]
		if name == "" {
			p.Close()
			continue // a form field, not a file
		}
		if _, err := up.Write(name, p); err != nil {
			// No p.Close(): it would drain the rest of the part, reading
			// a huge over-quota file to its end before answering. The
			// server drops the unread body and closes the connection.
			return err
		}
		p.Close()
		written = append(written, name)
	}
	if len(written) == 0 {
		return fmt.Errorf("the upload has no file parts: %w", errdefs.ErrInvalidArgument)
	}
	return c.JSON(http.StatusCreated, map[string]any{"files": written})
}

func (h *Handlers) folderDownload(c echo.Context) error {
	file := c.QueryParam("file")
	if file == "" {
		return fmt.Errorf("name the file to download in ?file=: %w", errdefs.ErrInvalidArgument)
	}
	f, fi, err := h.VFolders.Open(c.Request().Context(), owner(c).AccessKey, c.Param("name"), file)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "application/octet-stream")
	hdr.Set(echo.HeaderContentLength, strconv.FormatInt(fi.Size(), 10))
	hdr.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name()}))
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}

func (h *Handlers) folderMove(c echo.Context) error {
	var req struct {
		Src string `json:"src"`
		Dst string `json:"dst"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	if err := h.VFolders.Move(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req.Src, req.Dst); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) folderDeleteFiles(c echo.Context) error {
	var req struct {
		Files     []string `json:"files"`
		Recursive bool     `json:"recursive"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return fmt.Errorf("name the paths to delete in \"files\": %w", errdefs.ErrInvalidArgument)
	}
	for _, p := range req.Files {
		if err := h.VFolders.DeleteFile(c.Request().Context(), owner(c).AccessKey, c.Param("name"), p, req.Recursive); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handlers) folderInvite(c echo.Context) error {
	var req struct {
		Invitee string `json:"invitee"`
		Perm    string `json:"perm"`
	}
	if err := bind(c, &req, true); err != nil {
		return err
	}
	inv, err := h.VFolders.Invite(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req.Invitee, req.Perm)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, inv)
}

func (h *Handlers) folderInvitations(c echo.Context) error {
	invs, err := h.VFolders.Invitations(c.Request().Context(), owner(c).AccessKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"invitations": invs})
}

// folderAnswer accepts or declines an invitation named by "inv_id".
func (h *Handlers) folderAnswer(accept bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct {
			InvID string `json:"inv_id"`
		}
		if err := bind(c, &req, true); err != nil {
			return err
		}
		if req.InvID == "" {
			return fmt.Errorf("field \"inv_id\" is required: %w", errdefs.ErrInvalidArgument)
		}
		if err := h.VFolders.Answer(c.Request().Context(), owner(c).AccessKey, req.InvID, accept); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}
