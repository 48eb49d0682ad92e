package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// ResourcePolicy limits what the keypairs that name it may use.
type ResourcePolicy struct{ ent.Schema }

// Fields of the ResourcePolicy. The id is the policy name.
func (ResourcePolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("name").NotEmpty().Immutable().Unique(),
		field.JSON("total_resource_slots", map[string]float64{}).Optional(),
		// default_session_slots is what a session that asks for nothing
		// gets (raised to its image's minimum); empty: cpu=1 mem=512m.
		field.JSON("default_session_slots", map[string]float64{}).Optional(),
		field.Enum("default_for_unspecified").Values("LIMITED", "UNLIMITED").Default("UNLIMITED"),
		field.Int("max_concurrent_sessions").Default(30),
		field.Int("max_containers_per_session").Default(1),
		field.Int("max_session_lifetime").Default(0).Comment("seconds; 0 = unlimited"),
		field.Int("idle_timeout").Default(0).Comment("seconds; 0 = never"),
		field.Int("max_exec_seconds").Default(0).Comment("longest single run in seconds; 0 = unlimited"),
		field.Int("max_vfolder_count").Default(10),
		field.Int64("max_vfolder_size").Default(0),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}
