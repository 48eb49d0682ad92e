package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Agent is a compute host that registered itself by heartbeats.
type Agent struct{ ent.Schema }

// Fields of the Agent. The id is the agent's own stable id.
func (Agent) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().Immutable().Unique(),
		field.Enum("status").Values("ALIVE", "LOST", "TERMINATED").Default("ALIVE"),
		field.String("status_info").Default(""),
		field.String("addr").Default(""),
		field.String("region").Default("local"),
		field.String("scaling_group").Default("default"),
		field.String("version").Default(""),
		field.JSON("available_slots", map[string]float64{}).Optional(),
		field.JSON("occupied_slots", map[string]float64{}).Optional(),
		field.JSON("images", []string{}).Optional(),
		// devices are the accelerators the agent found (model, memory).
		field.JSON("devices", []map[string]any{}).Optional(),
		// schedulable is false while the agent is drained: it keeps its
		// sessions but gets no new ones.
		field.Bool("schedulable").Default(true),
		// health_problems is what the agent reports wrong with itself
		// (container runtime unreachable, disk nearly full); an agent
		// with problems gets no new sessions.
		field.JSON("health_problems", []string{}).Optional(),
		field.Int64("disk_free").Default(0),
		field.Time("first_contact").Default(time.Now).Immutable(),
		field.Time("last_heartbeat").Default(time.Now),
	}
}
