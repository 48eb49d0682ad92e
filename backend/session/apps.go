package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

// ServicePorts returns the apps a session's image declares.
func (s *Service) ServicePorts(ctx context.Context, imageName string) ([]types.ServicePort, error) {
	img, _, err := s.ImageByName(ctx, imageName)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, nil // the image left with its agents: it declares nothing now
	}
	return types.ParseServicePorts(img.Labels[types.LabelServicePorts])
}

// app resolves the owner's session and one app its image declares. An
// unknown session is 404, an app the image does not declare 400.
func (s *Service) app(ctx context.Context, owner, nameOrID, app string) (types.ServicePort, error) {
	sess, err := s.Find(ctx, owner, nameOrID)
	if err != nil {
		return types.ServicePort{}, err
	}
	ports, err := s.ServicePorts(ctx, sess.Image)
	if err != nil {
		return types.ServicePort{}, fmt.Errorf("image %s: %w", sess.Image, err)
	}
	var names []string
	for _, p := range ports {
		if p.Name == app {
			return p, nil
		}
		names = append(names, p.Name)
	}
	if app == "" {
		return types.ServicePort{}, fmt.Errorf("field \"app\" is required (this image offers: %s): %w", orNone(names), errdefs.ErrInvalidArgument)
	}
	return types.ServicePort{}, fmt.Errorf("image %s declares no app %q (it offers: %s): %w", sess.Image, app, orNone(names), errdefs.ErrInvalidArgument)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// StartService starts an app the session's image declares and returns once
// its port accepts connections. Starting a running app again is fine.
func (s *Service) StartService(ctx context.Context, owner, nameOrID string, req apitypes.StartService) (*apitypes.StartServiceResult, error) {
	sp, err := s.app(ctx, owner, nameOrID, req.App)
	if err != nil {
		return nil, err
	}
	if req.Port != 0 && req.Port != sp.Port {
		return nil, fmt.Errorf("app %q listens on port %d, as the image declares; port %d cannot be chosen: %w", sp.Name, sp.Port, req.Port, errdefs.ErrInvalidArgument)
	}
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	res, err := s.rpc.StartService(ctx, k.AgentAddr, k.ID.String(), aproto.StartService{
		App: sp.Name, Protocol: sp.Protocol, Port: sp.Port, Envs: req.Envs, Arguments: req.Arguments,
	})
	if err != nil {
		return nil, s.kernelGone(ctx, sess, err)
	}
	return &apitypes.StartServiceResult{App: sp.Name, Protocol: sp.Protocol, Port: res.Port}, nil
}

// ShutdownService stops an app the session's image declares; its open
// proxy connections end. Stopping an app that is not running succeeds.
func (s *Service) ShutdownService(ctx context.Context, owner, nameOrID, app string) error {
	sp, err := s.app(ctx, owner, nameOrID, app)
	if err != nil {
		return err
	}
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return err
	}
	if err := s.rpc.ShutdownService(ctx, k.AgentAddr, k.ID.String(), sp.Name); err != nil {
		return s.kernelGone(ctx, sess, err)
	}
	return nil
}

// CheckApp resolves an app for the proxy before the client's connection is
// upgraded, so a bad request gets a plain HTTP error.
func (s *Service) CheckApp(ctx context.Context, owner, nameOrID, app string) (types.ServicePort, error) {
	sp, err := s.app(ctx, owner, nameOrID, app)
	if err != nil {
		return sp, err
	}
	if _, _, err := s.running(ctx, owner, nameOrID); err != nil {
		return sp, err
	}
	return sp, nil
}

// DialApp opens a byte pipe to a declared app's port inside the session. An
// app that is not listening (not started) is a conflict. ctx must live as
// long as the pipe is used.
func (s *Service) DialApp(ctx context.Context, owner, nameOrID, app string) (io.ReadWriteCloser, error) {
	sp, err := s.app(ctx, owner, nameOrID, app)
	if err != nil {
		return nil, err
	}
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	rwc, err := s.rpc.DialService(ctx, k.AgentAddr, k.ID.String(), sp.Port)
	if err != nil {
		if errors.Is(err, errdefs.ErrConflict) { // the runner found nothing listening
			return nil, fmt.Errorf("app %q is not running in session %q (%v); start it with start-service: %w", app, sess.Name, err, errdefs.ErrConflict)
		}
		return nil, s.kernelGone(ctx, sess, err)
	}
	return rwc, nil
}

// createdServicePorts lists the apps of image for the create answer, in
// the wire form ({"name","protocol","ports":[port]}). Create resolved the
// image through the image cache a moment before, so the labels are read
// from that cache rather than from the database; a cache emptied by an
// agent's image report in between, or a label that does not parse (the
// app endpoints report that), yields an empty list, never a failed create.
func (s *Service) createdServicePorts(image string) []apitypes.ServicePort {
	out := []apitypes.ServicePort{}
	s.imgMu.Lock()
	var labels map[string]string
	for _, im := range s.imgCache {
		if im.ID == image {
			labels = im.Labels
			break
		}
	}
	s.imgMu.Unlock()
	ports, err := types.ParseServicePorts(labels[types.LabelServicePorts])
	if err != nil {
		return out
	}
	for _, p := range ports {
		out = append(out, apitypes.ServicePort{Name: p.Name, Protocol: p.Protocol, Ports: []int{p.Port}})
	}
	return out
}
