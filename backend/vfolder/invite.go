package vfolder

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/user"
	entvf "baigo.dev/bai/ent/vfolder"
	"baigo.dev/bai/ent/vfolderinvitation"
)

// resolveInvitee turns an access key or a user's email into an active
// access key (the user's first active keypair for an email).
func (s *Service) resolveInvitee(ctx context.Context, who string) (string, error) {
	if strings.Contains(who, "@") {
		kp, err := s.st.KeyPair.Query().Where(keypair.IsActive(true), keypair.HasUserWith(user.EmailEQ(who))).
			Order(ent.Asc(keypair.FieldCreatedAt)).First(ctx)
		if ent.IsNotFound(err) {
			return "", fmt.Errorf("invitee %q: no user with an active keypair has this email: %w", who, errdefs.ErrNotFound)
		}
		if err != nil {
			return "", err
		}
		return kp.ID, nil
	}
	ok, err := s.st.KeyPair.Query().Where(keypair.IDEQ(who), keypair.IsActive(true)).Exist(ctx)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("invitee %q is not an active access key: %w", who, errdefs.ErrNotFound)
	}
	return who, nil
}

// Invite offers ak's folder name to invitee (an access key or an email)
// with perm "ro" or "rw". Inviting again replaces the permission and asks
// again.
func (s *Service) Invite(ctx context.Context, ak, name, invitee, perm string) (apitypes.VFolderInvitation, error) {
	if perm == "" {
		perm = PermRO
	}
	if perm != PermRO && perm != PermRW {
		return apitypes.VFolderInvitation{}, fmt.Errorf("field \"perm\" must be \"ro\" or \"rw\", not %q: %w", perm, errdefs.ErrInvalidArgument)
	}
	if invitee == "" {
		return apitypes.VFolderInvitation{}, fmt.Errorf("field \"invitee\" (an access key or a user's email) is required: %w", errdefs.ErrInvalidArgument)
	}
	f, err := s.owned(ctx, ak, name)
	if err != nil {
		return apitypes.VFolderInvitation{}, err
	}
	to, err := s.resolveInvitee(ctx, invitee)
	if err != nil {
		return apitypes.VFolderInvitation{}, err
	}
	if to == ak {
		return apitypes.VFolderInvitation{}, fmt.Errorf("you own folder %q already: %w", name, errdefs.ErrInvalidArgument)
	}
	p := vfolderinvitation.Perm(perm)
	inv, err := s.st.VFolderInvitation.Query().Where(vfolderinvitation.InviteeEQ(to), vfolderinvitation.HasFolderWith(entvf.IDEQ(f.ID))).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		inv, err = s.st.VFolderInvitation.Create().SetFolder(f.VFolder).SetInviter(ak).SetInvitee(to).SetPerm(p).Save(ctx)
	case err == nil:
		inv, err = inv.Update().SetPerm(p).SetState(vfolderinvitation.StatePending).Save(ctx)
	}
	if err != nil {
		return apitypes.VFolderInvitation{}, err
	}
	return invInfo(inv, f.VFolder), nil
}

func invInfo(inv *ent.VFolderInvitation, f *ent.VFolder) apitypes.VFolderInvitation {
	return apitypes.VFolderInvitation{ID: inv.ID.String(), VFolderID: f.ID.String(), VFolder: f.Name, Inviter: inv.Inviter,
		Invitee: inv.Invitee, Permission: string(inv.Perm), State: string(inv.State), CreatedAt: inv.CreatedAt}
}

// Invitations lists the invitations pending for ak.
func (s *Service) Invitations(ctx context.Context, ak string) ([]apitypes.VFolderInvitation, error) {
	invs, err := s.st.VFolderInvitation.Query().Where(vfolderinvitation.InviteeEQ(ak), vfolderinvitation.StateEQ(vfolderinvitation.StatePending)).
		WithFolder().Order(ent.Asc(vfolderinvitation.FieldCreatedAt)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := []apitypes.VFolderInvitation{}
	for _, inv := range invs {
		out = append(out, invInfo(inv, inv.Edges.Folder))
	}
	return out, nil
}

// Answer accepts or declines ak's pending invitation id. Accepting a folder
// whose name clashes with one ak already sees is refused, since names are
// how sessions mount folders.
func (s *Service) Answer(ctx context.Context, ak, id string, accept bool) error {
	uid, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("invitation %q: %w", id, errdefs.ErrNotFound)
	}
	inv, err := s.st.VFolderInvitation.Query().Where(vfolderinvitation.IDEQ(uid), vfolderinvitation.InviteeEQ(ak),
		vfolderinvitation.StateEQ(vfolderinvitation.StatePending)).WithFolder().Only(ctx)
	if ent.IsNotFound(err) {
		return fmt.Errorf("no pending invitation %q for you: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	state := vfolderinvitation.StateDeclined
	if accept {
		state = vfolderinvitation.StateAccepted
		if _, err := s.Get(ctx, ak, inv.Edges.Folder.Name); err == nil {
			return fmt.Errorf("you already have a folder named %q; rename yours first: %w", inv.Edges.Folder.Name, errdefs.ErrConflict)
		}
	}
	return inv.Update().SetState(state).Exec(ctx)
}
