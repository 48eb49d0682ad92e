package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
)

// Kernel is one container of a session on one agent.
type Kernel struct{ ent.Schema }

// Fields of the Kernel.
func (Kernel) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		field.String("role").Default("main"),
		field.String("agent_id").Default(""),
		field.String("agent_addr").Default(""),
		field.String("container_id").Default(""),
		field.String("image").Default(""),
		field.String("status").Default("PENDING"),
		field.String("status_info").Default(""),
		field.JSON("slots", map[string]float64{}).Optional(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("terminated_at").Optional().Nillable(),
	}
}

// Edges of the Kernel.
func (Kernel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("session", Session.Type).Ref("kernels").Unique().Required(),
	}
}
