package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// ScalingGroup is a named pool of agents with its own scheduling policy.
// Sessions ask for a group (default "default"); agents declare theirs.
type ScalingGroup struct{ ent.Schema }

// Fields of the ScalingGroup. The id is the group name.
func (ScalingGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("name").NotEmpty().Immutable().Unique(),
		field.String("description").Default(""),
		field.Bool("is_active").Default(true),
		field.String("scheduler").Default("fifo").Comment("fifo, lifo or drf"),
		field.String("agent_selector").Default("concentrated").Comment("concentrated or dispersed"),
		field.Int("pending_timeout").Default(0).Comment("seconds a session may stay PENDING before it is CANCELLED; 0 = forever"),
		field.String("scaler").Default("").Comment("command (exec:PATH) or webhook URL asked for more or fewer agents; empty = fixed fleet"),
		field.Int("scaler_idle_seconds").Default(0).Comment("drain agents that ran nothing for this long when a scaler is set; 0 = never"),
		// scaler_acted_at is when a manager last asked the scaler for more
		// agents; replicas update it conditionally so only one asks.
		field.Time("scaler_acted_at").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}
