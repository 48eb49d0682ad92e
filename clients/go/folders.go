package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// folderPath escapes a folder name into /folders/{name}.
func folderPath(name string, suffix ...string) string {
	p := "/folders/" + url.PathEscape(name)
	for _, s := range suffix {
		p += "/" + s
	}
	return p
}

// CreateFolder makes a virtual folder.
func (c *Client) CreateFolder(ctx context.Context, name string) (*apitypes.VFolder, error) {
	var out apitypes.VFolder
	if err := c.do(ctx, http.MethodPost, "/folders", nil, map[string]string{"name": name}, &out, true); err != nil {
		return nil, fmt.Errorf("create folder %s: %w", name, err)
	}
	return &out, nil
}

// ListFolders lists the caller's folders and those shared with it.
func (c *Client) ListFolders(ctx context.Context) ([]apitypes.VFolder, error) {
	var out []apitypes.VFolder
	if err := c.do(ctx, http.MethodGet, "/folders", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return out, nil
}

// GetFolder describes one folder.
func (c *Client) GetFolder(ctx context.Context, name string) (*apitypes.VFolder, error) {
	var out apitypes.VFolder
	if err := c.do(ctx, http.MethodGet, folderPath(name), nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("folder %s: %w", name, err)
	}
	return &out, nil
}

// DeleteFolder deletes a folder the caller owns, with all its files.
func (c *Client) DeleteFolder(ctx context.Context, name string) error {
	if err := c.do(ctx, http.MethodDelete, folderPath(name), nil, nil, nil, true); err != nil {
		return fmt.Errorf("delete folder %s: %w", name, err)
	}
	return nil
}

// RenameFolder renames a folder the caller owns.
func (c *Client) RenameFolder(ctx context.Context, name, newName string) error {
	if err := c.do(ctx, http.MethodPost, folderPath(name, "rename"), nil, map[string]string{"new_name": newName}, nil, true); err != nil {
		return fmt.Errorf("rename folder %s: %w", name, err)
	}
	return nil
}

// FolderFiles lists directory dir of a folder ("" for its top).
func (c *Client) FolderFiles(ctx context.Context, name, dir string) ([]apitypes.VFolderFile, error) {
	var out struct {
		Items []apitypes.VFolderFile `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, folderPath(name, "files"), url.Values{"path": {dir}}, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list folder %s: %w", name, err)
	}
	return out.Items, nil
}

// FolderMkdir makes directory dir (and its parents) in a folder.
func (c *Client) FolderMkdir(ctx context.Context, name, dir string) error {
	if err := c.do(ctx, http.MethodPost, folderPath(name, "mkdir"), nil, map[string]string{"path": dir}, nil, true); err != nil {
		return fmt.Errorf("mkdir %s in folder %s: %w", dir, name, err)
	}
	return nil
}

// FolderUpload streams files into a folder (each UploadFile's Name is its
// path in the folder), at most MaxUploadFiles per request. Each file
// appears only once complete; one over the quota is not written at all.
func (c *Client) FolderUpload(ctx context.Context, name string, files []UploadFile, progress Progress) error {
	var total, sent int64
	for _, f := range files {
		total += f.Size
	}
	for start := 0; start < len(files); start += MaxUploadFiles {
		batch := files[start:min(start+MaxUploadFiles, len(files))]
		if err := c.uploadBatch(ctx, folderPath(name, "upload"), batch, countingWriter{sent: &sent, total: &total, progress: progress}); err != nil {
			return fmt.Errorf("upload to folder %s: %w", name, err)
		}
	}
	return nil
}

// FolderDownload copies one regular file of a folder to w and returns the
// number of bytes copied.
func (c *Client) FolderDownload(ctx context.Context, name, file string, w io.Writer) (int64, error) {
	resp, err := c.streamRequest(ctx, http.MethodGet, folderPath(name, "download"), url.Values{"file": {file}}, "text/plain", nil)
	if err != nil {
		return 0, fmt.Errorf("download %s from folder %s: %w", file, name, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download %s: %w: %w", file, err, errdefs.ErrUnavailable)
	}
	return n, nil
}

// FolderMove renames or moves src to dst inside a folder.
func (c *Client) FolderMove(ctx context.Context, name, src, dst string) error {
	if err := c.do(ctx, http.MethodPost, folderPath(name, "move_file"), nil, map[string]string{"src": src, "dst": dst}, nil, true); err != nil {
		return fmt.Errorf("move %s in folder %s: %w", src, name, err)
	}
	return nil
}

// FolderDeleteFiles deletes files of a folder; recursive also deletes
// directories with their contents.
func (c *Client) FolderDeleteFiles(ctx context.Context, name string, files []string, recursive bool) error {
	if err := c.do(ctx, http.MethodDelete, folderPath(name, "delete_files"), nil, map[string]any{"files": files, "recursive": recursive}, nil, true); err != nil {
		return fmt.Errorf("delete files in folder %s: %w", name, err)
	}
	return nil
}

// InviteToFolder shares a folder the caller owns with invitee (an access
// key or a user's email), perm "ro" or "rw".
func (c *Client) InviteToFolder(ctx context.Context, name, invitee, perm string) (*apitypes.VFolderInvitation, error) {
	var out apitypes.VFolderInvitation
	if err := c.do(ctx, http.MethodPost, folderPath(name, "invite"), nil, map[string]string{"invitee": invitee, "perm": perm}, &out, true); err != nil {
		return nil, fmt.Errorf("invite to folder %s: %w", name, err)
	}
	return &out, nil
}

// FolderInvitations lists the invitations waiting for the caller.
func (c *Client) FolderInvitations(ctx context.Context) ([]apitypes.VFolderInvitation, error) {
	var out struct {
		Invitations []apitypes.VFolderInvitation `json:"invitations"`
	}
	if err := c.do(ctx, http.MethodGet, "/folders/invitations/list", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list folder invitations: %w", err)
	}
	return out.Invitations, nil
}

// AcceptFolderInvitation accepts invitation id: its folder then appears in
// ListFolders and may be mounted.
func (c *Client) AcceptFolderInvitation(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodPost, "/folders/invitations/accept", nil, map[string]string{"inv_id": id}, nil, true); err != nil {
		return fmt.Errorf("accept invitation %s: %w", id, err)
	}
	return nil
}

// DeclineFolderInvitation declines invitation id.
func (c *Client) DeclineFolderInvitation(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, "/folders/invitations/delete", nil, map[string]string{"inv_id": id}, nil, true); err != nil {
		return fmt.Errorf("decline invitation %s: %w", id, err)
	}
	return nil
}
