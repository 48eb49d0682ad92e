package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/sessiontemplate"
)

// maxTemplateName bounds a template's display name.
const maxTemplateName = 128

// decodeCreate turns a template body (or a merged one) into a create
// request. Unknown keys are refused: a misspelt field in a stored template
// would otherwise be dropped silently on every session made from it.
func decodeCreate(body map[string]any) (apitypes.CreateSession, error) {
	var req apitypes.CreateSession
	raw, err := json.Marshal(body)
	if err != nil {
		return req, fmt.Errorf("template: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return req, fmt.Errorf("template field %q must be %s, not %s: %w", te.Field, te.Type.String(), te.Value, errdefs.ErrInvalidArgument)
		}
		return req, fmt.Errorf("template: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return req, nil
}

// validateTemplate checks a template the way Create checks a request,
// short of placing it: the image must be known, the type valid and the
// resources parse, so a bad template fails when it is stored rather than
// on every later create.
func (s *Service) validateTemplate(ctx context.Context, owner Owner, in apitypes.SessionTemplateRequest) error {
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > maxTemplateName {
		return fmt.Errorf("field \"name\" must be 1 to %d characters: %w", maxTemplateName, errdefs.ErrInvalidArgument)
	}
	if in.Template == nil {
		return fmt.Errorf("field \"template\" (a create request object) is required: %w", errdefs.ErrInvalidArgument)
	}
	req, err := decodeCreate(in.Template)
	if err != nil {
		return err
	}
	imgName := req.Image
	if imgName == "" {
		imgName = req.Lang
	}
	if imgName == "" {
		return fmt.Errorf("template field \"image\" is required: %w", errdefs.ErrInvalidArgument)
	}
	if req.Type != "" && req.Type != "interactive" && req.Type != "batch" {
		return fmt.Errorf("template field \"type\" must be \"interactive\" or \"batch\", not %q: %w", req.Type, errdefs.ErrInvalidArgument)
	}
	if req.Name != "" && !NameOK(req.Name) {
		return fmt.Errorf("template field \"name\": %q is not a valid session name: %w", req.Name, errdefs.ErrInvalidArgument)
	}
	img, avail, err := s.ImageByName(ctx, imgName)
	if err != nil {
		return err
	}
	if img == nil {
		return unknownImage(imgName, avail)
	}
	if _, err := requestedSlots(req, img, s.policyDefaults(ctx, owner.AccessKey)); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	return nil
}

func templateInfo(t *ent.SessionTemplate) apitypes.SessionTemplate {
	return apitypes.SessionTemplate{
		ID: t.ID.String(), Name: t.Name, Owner: t.OwnerAccessKey,
		Template: t.Template, Created: t.CreatedAt, Modified: t.ModifiedAt,
	}
}

// ownTemplate loads a template of owner by id. Another owner's template
// and a malformed id both answer not-found, so nothing leaks about what
// exists.
func (s *Service) ownTemplate(ctx context.Context, owner, id string) (*ent.SessionTemplate, error) {
	notFound := fmt.Errorf("session template %q not found: %w", id, errdefs.ErrNotFound)
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, notFound
	}
	t, err := s.st.SessionTemplate.Query().Where(sessiontemplate.IDEQ(uid), sessiontemplate.OwnerAccessKeyEQ(owner)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound
	}
	return t, err
}

// CreateTemplate stores a validated template for owner.
func (s *Service) CreateTemplate(ctx context.Context, owner Owner, in apitypes.SessionTemplateRequest) (apitypes.SessionTemplate, error) {
	if err := s.validateTemplate(ctx, owner, in); err != nil {
		return apitypes.SessionTemplate{}, err
	}
	t, err := s.st.SessionTemplate.Create().SetName(in.Name).SetOwnerAccessKey(owner.AccessKey).SetTemplate(in.Template).Save(ctx)
	if err != nil {
		return apitypes.SessionTemplate{}, err
	}
	return templateInfo(t), nil
}

// ListTemplates returns owner's own templates, oldest first.
func (s *Service) ListTemplates(ctx context.Context, owner string) ([]apitypes.SessionTemplate, error) {
	ts, err := s.st.SessionTemplate.Query().Where(sessiontemplate.OwnerAccessKeyEQ(owner)).Order(ent.Asc(sessiontemplate.FieldCreatedAt)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.SessionTemplate, 0, len(ts))
	for _, t := range ts {
		out = append(out, templateInfo(t))
	}
	return out, nil
}

// GetTemplate returns one of owner's templates.
func (s *Service) GetTemplate(ctx context.Context, owner, id string) (apitypes.SessionTemplate, error) {
	t, err := s.ownTemplate(ctx, owner, id)
	if err != nil {
		return apitypes.SessionTemplate{}, err
	}
	return templateInfo(t), nil
}

// UpdateTemplate replaces the name and body of one of owner's templates.
func (s *Service) UpdateTemplate(ctx context.Context, owner Owner, id string, in apitypes.SessionTemplateRequest) (apitypes.SessionTemplate, error) {
	t, err := s.ownTemplate(ctx, owner.AccessKey, id)
	if err != nil {
		return apitypes.SessionTemplate{}, err
	}
	if err := s.validateTemplate(ctx, owner, in); err != nil {
		return apitypes.SessionTemplate{}, err
	}
	t, err = t.Update().SetName(in.Name).SetTemplate(in.Template).SetModifiedAt(time.Now()).Save(ctx)
	if err != nil {
		return apitypes.SessionTemplate{}, err
	}
	return templateInfo(t), nil
}

// DeleteTemplate removes one of owner's templates; sessions made from it
// are not affected (they copied its body).
func (s *Service) DeleteTemplate(ctx context.Context, owner, id string) error {
	t, err := s.ownTemplate(ctx, owner, id)
	if err != nil {
		return err
	}
	return s.st.SessionTemplate.DeleteOne(t).Exec(ctx)
}

// CreateFromTemplate merges overrides over the template and creates the
// session through the normal create path. overrides is the request body
// less "template_id"; "config" is merged one level deep so a request can
// change, say, only config.environ and keep the template's resources.
func (s *Service) CreateFromTemplate(ctx context.Context, owner Owner, id string, overrides map[string]any) (*apitypes.CreateSessionResult, error) {
	if id == "" {
		return nil, fmt.Errorf("field \"template_id\" is required: %w", errdefs.ErrInvalidArgument)
	}
	t, err := s.ownTemplate(ctx, owner.AccessKey, id)
	if err != nil {
		return nil, err
	}
	merged := mergeTemplate(t.Template, overrides)
	req, err := decodeCreate(merged)
	if err != nil {
		return nil, err
	}
	return s.Create(ctx, owner, req)
}

func mergeTemplate(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if k == "config" && bok && ook {
			cfg := make(map[string]any, len(bm)+len(om))
			for ck, cv := range bm {
				cfg[ck] = cv
			}
			for ck, cv := range om {
				cfg[ck] = cv
			}
			out[k] = cfg
			continue
		}
		out[k] = v
	}
	return out
}
