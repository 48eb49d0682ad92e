package session

import (
	"context"
	"io"

	"baigo.dev/bai/backend/agentrpc"
	"baigo.dev/bai/common/aproto"
)

// File transfers go straight to the agent holding the kernel; the manager
// never buffers file contents. A missing file answers ErrNotFound like a
// vanished kernel would, so these calls do not turn the session to ERROR
// (the heartbeat reconciliation notices a vanished kernel).

// Upload passes a multipart/form-data body through to the session's work
// dir. length is the body's length or -1.
func (s *Service) Upload(ctx context.Context, owner, nameOrID, contentType string, length int64, body io.Reader) (*aproto.UploadResult, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err == nil {
		s.Touch(sess.ID) // file transfers count as activity
	}
	if err != nil {
		return nil, err
	}
	return s.rpc.Upload(ctx, k.AgentAddr, k.ID.String(), contentType, length, body)
}

// Download streams a multipart/mixed body holding one tar archive per path.
func (s *Service) Download(ctx context.Context, owner, nameOrID string, files []string) (*agentrpc.Stream, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err == nil {
		s.Touch(sess.ID) // file transfers count as activity
	}
	if err != nil {
		return nil, err
	}
	return s.rpc.Download(ctx, k.AgentAddr, k.ID.String(), files)
}

// DownloadSingle streams one regular file of the session's work dir.
func (s *Service) DownloadSingle(ctx context.Context, owner, nameOrID, file string) (*agentrpc.Stream, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err == nil {
		s.Touch(sess.ID) // file transfers count as activity
	}
	if err != nil {
		return nil, err
	}
	return s.rpc.DownloadSingle(ctx, k.AgentAddr, k.ID.String(), file)
}

// ListFiles lists a directory of the session's work dir.
func (s *Service) ListFiles(ctx context.Context, owner, nameOrID, path string) (*aproto.FileList, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err == nil {
		s.Touch(sess.ID) // file transfers count as activity
	}
	if err != nil {
		return nil, err
	}
	return s.rpc.ListFiles(ctx, k.AgentAddr, k.ID.String(), path)
}
