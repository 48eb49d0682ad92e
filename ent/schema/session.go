package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"baigo.dev/bai/common/aproto"
)

// Session is a user's compute session: one (for now) kernel container.
type Session struct{ ent.Schema }

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		field.String("name").NotEmpty(),
		// alive_name equals name while the session is not final and is NULL
		// afterwards; a unique index on (owner, alive_name) keeps live names
		// unique per owner on every database without partial indexes.
		field.String("alive_name").Optional().Nillable(),
		field.String("owner_access_key").NotEmpty(),
		field.String("domain_name").Default("default"),
		field.String("group_name").Default("default"),
		field.String("image").NotEmpty(),
		field.String("type").Default("interactive"),
		field.String("status").Default("PENDING"),
		field.String("status_info").Default(""),
		field.Time("status_changed").Default(time.Now),
		field.String("agent_id").Default(""),
		field.String("scaling_group").Default("default"),
		field.JSON("requested_slots", map[string]float64{}).Optional(),
		field.JSON("occupied_slots", map[string]float64{}).Optional(),
		field.JSON("environ", map[string]string{}).Optional(),
		field.Bool("network").Default(false),
		// mounts are the virtual folders resolved at create time (name,
		// host path, read-only), handed to the agent at dispatch.
		field.JSON("mounts", []aproto.Mount{}).Optional(),
		field.String("tag").Default(""),
		// bootstrap_script runs once when the kernel starts, before the
		// session turns RUNNING.
		field.Text("bootstrap_script").Default(""),
		field.Int("num_queries").Default(0),
		field.JSON("last_stat", map[string]any{}).Optional(),
		// last_activity is the last execution or stream traffic; idle
		// culling compares it with the policy's idle_timeout.
		field.Time("last_activity").Default(time.Now),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("terminated_at").Optional().Nillable(),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("kernels", Kernel.Type),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_access_key", "alive_name").Unique(),
		index.Fields("owner_access_key", "status"),
		index.Fields("status"),
	}
}
