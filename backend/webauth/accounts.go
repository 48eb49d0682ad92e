package webauth

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/user"
)

// User is a user as GET /admin/users lists it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	IsActive  bool      `json:"isActive"`
	CreatedAt time.Time `json:"createdAt"`
}

// KeyPair is a keypair as GET /admin/keypairs lists it. SecretKey is set
// only in the answer that creates the keypair: it is shown once.
type KeyPair struct {
	AccessKey      string     `json:"accessKey"`
	SecretKey      string     `json:"secretKey,omitempty"`
	UserEmail      string     `json:"userEmail"`
	IsActive       bool       `json:"isActive"`
	IsAdmin        bool       `json:"isAdmin"`
	ResourcePolicy string     `json:"resourcePolicy"`
	RateLimit      int        `json:"rateLimit"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastUsed       *time.Time `json:"lastUsed"`
}

// NewUser is the body of POST /admin/users.
type NewUser struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Role     string `json:"role"` // empty: user
}

// UserChange is the body of PATCH /admin/users/{email}; absent fields keep
// their value.
type UserChange struct {
	IsActive *bool   `json:"isActive"`
	Role     *string `json:"role"`
	Username *string `json:"username"`
}

func userOut(u *ent.User) User {
	return User{ID: u.ID.String(), Email: u.Email, Username: u.Username, Role: string(u.Role), IsActive: u.IsActive, CreatedAt: u.CreatedAt}
}

func keyPairOut(k *ent.KeyPair, email string) KeyPair {
	return KeyPair{AccessKey: k.ID, UserEmail: email, IsActive: k.IsActive, IsAdmin: k.IsAdmin,
		ResourcePolicy: k.ResourcePolicy, RateLimit: k.RateLimit, CreatedAt: k.CreatedAt, LastUsed: k.LastUsed}
}

// Users lists every user, oldest first.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.st.User.Query().Order(ent.Asc(user.FieldCreatedAt), ent.Asc(user.FieldEmail)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(us))
	for _, u := range us {
		out = append(out, userOut(u))
	}
	return out, nil
}

// KeyPairs lists every keypair (never a secret key), oldest first.
func (s *Service) KeyPairs(ctx context.Context) ([]KeyPair, error) {
	ks, err := s.st.KeyPair.Query().WithUser().Order(ent.Asc(keypair.FieldCreatedAt), ent.Asc(keypair.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyPair, 0, len(ks))
	for _, k := range ks {
		email := ""
		if k.Edges.User != nil {
			email = k.Edges.User.Email
		}
		out = append(out, keyPairOut(k, email))
	}
	return out, nil
}

func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if email == "" || len(email) > 254 || err != nil || a.Address != email || a.Name != "" {
		return "", fmt.Errorf("field \"email\" must be an e-mail address like name@example.com, not %q: %w", email, errdefs.ErrInvalidArgument)
	}
	return email, nil
}

func checkRole(r string) (user.Role, error) {
	if r == "" {
		return user.RoleUser, nil
	}
	if err := user.RoleValidator(user.Role(r)); err != nil {
		return "", fmt.Errorf("field \"role\" must be superadmin, admin or user, not %q: %w", r, errdefs.ErrInvalidArgument)
	}
	return user.Role(r), nil
}

// userByEmail finds a user by e-mail address, ignoring case (providers and
// people do not agree on it); the oldest wins if several differ only in case.
func userByEmail(ctx context.Context, c *ent.Client, email string) (*ent.User, error) {
	u, err := c.User.Query().Where(user.EmailEqualFold(email)).Order(ent.Asc(user.FieldCreatedAt)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// newKeyPair creates a keypair for u: a fresh access key in the usual
// format, a random secret key, the default resource policy, and the admin
// flag for admins and superadmins (superadmin powers need it).
func newKeyPair(ctx context.Context, c *ent.Client, u *ent.User) (*ent.KeyPair, error) {
	return c.KeyPair.Create().SetID(auth.NewAccessKey()).SetSecretKey(auth.NewSecretKey()).
		SetIsAdmin(u.Role != user.RoleUser).SetUser(u).Save(ctx)
}

// CreateUser creates a user with a first keypair and returns both; the
// keypair's secret key is in the answer, and only there.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (User, KeyPair, error) {
	email, err := checkEmail(in.Email)
	if err != nil {
		return User{}, KeyPair{}, err
	}
	role, err := checkRole(in.Role)
	if err != nil {
		return User{}, KeyPair{}, err
	}
	username := strings.TrimSpace(in.Username)
	if len(username) > 64 {
		return User{}, KeyPair{}, fmt.Errorf("field \"username\" must be at most 64 characters: %w", errdefs.ErrInvalidArgument)
	}
	if username == "" {
		username = email[:strings.LastIndex(email, "@")]
	}
	var u *ent.User
	var k *ent.KeyPair
	err = s.st.Tx(ctx, func(tx *ent.Tx) error {
		old, err := userByEmail(ctx, tx.Client(), email)
		if err != nil {
			return err
		}
		if old != nil {
			return fmt.Errorf("a user with e-mail %s exists already: %w", old.Email, errdefs.ErrConflict)
		}
		if u, err = tx.User.Create().SetEmail(email).SetUsername(username).SetRole(role).Save(ctx); err != nil {
			if ent.IsConstraintError(err) {
				return fmt.Errorf("a user with e-mail %s exists already: %w", email, errdefs.ErrConflict)
			}
			return err
		}
		k, err = newKeyPair(ctx, tx.Client(), u)
		return err
	})
	if err != nil {
		return User{}, KeyPair{}, err
	}
	s.log.Info("user created", "email", u.Email, "role", u.Role, "access_key", k.ID)
	kp := keyPairOut(k, u.Email)
	kp.SecretKey = k.SecretKey
	return userOut(u), kp, nil
}

// CreateKeyPair adds a keypair to the user with the given e-mail address;
// its secret key is in the answer, and only there.
func (s *Service) CreateKeyPair(ctx context.Context, email string) (KeyPair, error) {
	if strings.TrimSpace(email) == "" {
		return KeyPair{}, fmt.Errorf("field \"userEmail\" is required: %w", errdefs.ErrInvalidArgument)
	}
	u, err := userByEmail(ctx, s.st.Client, strings.TrimSpace(email))
	if err != nil {
		return KeyPair{}, err
	}
	if u == nil {
		return KeyPair{}, fmt.Errorf("no user has the e-mail address %q; create the user first (POST /admin/users): %w", email, errdefs.ErrInvalidArgument)
	}
	k, err := newKeyPair(ctx, s.st.Client, u)
	if err != nil {
		return KeyPair{}, err
	}
	s.log.Info("keypair created", "email", u.Email, "access_key", k.ID)
	kp := keyPairOut(k, u.Email)
	kp.SecretKey = k.SecretKey
	return kp, nil
}

// UpdateUser changes a user's active flag, role or name on behalf of the
// user actorID (who may not lock themselves out). A deactivated user's
// keypairs stop working at once (their cache entries are dropped) and so
// do its browser sessions.
func (s *Service) UpdateUser(ctx context.Context, actorID, email string, in UserChange) (User, error) {
	u, err := userByEmail(ctx, s.st.Client, email)
	if err != nil {
		return User{}, err
	}
	if u == nil {
		return User{}, fmt.Errorf("user %q: %w", email, errdefs.ErrNotFound)
	}
	if u.ID.String() == actorID && ((in.IsActive != nil && !*in.IsActive) || (in.Role != nil && *in.Role != string(u.Role))) {
		return User{}, fmt.Errorf("you cannot deactivate your own user or change its role; ask another superadmin: %w", errdefs.ErrInvalidArgument)
	}
	up := s.st.User.UpdateOne(u)
	if in.IsActive != nil {
		up.SetIsActive(*in.IsActive)
	}
	if in.Username != nil {
		if len(*in.Username) > 64 {
			return User{}, fmt.Errorf("field \"username\" must be at most 64 characters: %w", errdefs.ErrInvalidArgument)
		}
		up.SetUsername(strings.TrimSpace(*in.Username))
	}
	var role user.Role
	if in.Role != nil {
		if role, err = checkRole(*in.Role); err != nil {
			return User{}, err
		}
		up.SetRole(role)
	}
	if u, err = up.Save(ctx); err != nil {
		return User{}, err
	}
	if in.Role != nil {
		if err := s.st.KeyPair.Update().Where(keypair.HasUserWith(user.IDEQ(u.ID))).SetIsAdmin(role != user.RoleUser).Exec(ctx); err != nil {
			return User{}, err
		}
	}
	s.forgetKeys(ctx, u)
	s.log.Info("user changed", "email", u.Email, "role", u.Role, "is_active", u.IsActive)
	return userOut(u), nil
}

// forgetKeys drops u's keypairs from the authentication cache, so a change
// of role or active flag applies to the next request.
func (s *Service) forgetKeys(ctx context.Context, u *ent.User) {
	ids, err := s.st.KeyPair.Query().Where(keypair.HasUserWith(user.IDEQ(u.ID))).IDs(ctx)
	if err != nil {
		s.log.Warn("list keypairs to refresh", "email", u.Email, "err", err)
		return
	}
	for _, id := range ids {
		s.keys.Forget(id)
	}
}
