package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// VFolder is a virtual folder: a directory under the manager's vfolder root
// (named by the folder's id, so a rename moves nothing) that outlives
// sessions and is bind-mounted into those that list it in config.mounts.
type VFolder struct{ ent.Schema }

// Fields of the VFolder.
func (VFolder) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		field.String("name").NotEmpty().MaxLen(64),
		field.String("owner_access_key").NotEmpty(),
		// host is the storage host holding the folder; one local root
		// ("local") for now.
		field.String("host").Default("local"),
		// quota is the folder's own size limit in bytes; 0 = only the
		// owner's policy applies.
		field.Int64("quota").Default(0),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of the VFolder.
func (VFolder) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("invitations", VFolderInvitation.Type),
	}
}

// Indexes of the VFolder: names are unique per owner.
func (VFolder) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_access_key", "name").Unique(),
	}
}

// VFolderInvitation offers a folder to another keypair read-only or
// read-write; once accepted it is the invitee's permission to use it.
type VFolderInvitation struct{ ent.Schema }

// Fields of the VFolderInvitation.
func (VFolderInvitation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		field.String("inviter").NotEmpty(),
		field.String("invitee").NotEmpty().Comment("the invitee's access key"),
		field.Enum("perm").Values("ro", "rw").Default("ro"),
		field.Enum("state").Values("pending", "accepted", "declined").Default("pending"),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of the VFolderInvitation.
func (VFolderInvitation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("folder", VFolder.Type).Ref("invitations").Unique().Required(),
	}
}

// Indexes of the VFolderInvitation: one invitation per folder and invitee.
func (VFolderInvitation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("invitee"),
		index.Fields("invitee").Edges("folder").Unique(),
	}
}
