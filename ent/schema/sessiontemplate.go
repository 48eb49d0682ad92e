package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// SessionTemplate is a stored create request a user starts sessions from
// (POST /session/_/create-from-template).
type SessionTemplate struct{ ent.Schema }

// Fields of the SessionTemplate.
func (SessionTemplate) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		field.String("name").NotEmpty(),
		field.String("owner_access_key").NotEmpty(),
		// template is the create request body (image, type, config,
		// bootstrap_script, ...) kept as the JSON object the user sent, so
		// overrides can be merged over it key by key.
		field.JSON("template", map[string]any{}),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("modified_at").Default(time.Now),
	}
}

// Indexes of the SessionTemplate.
func (SessionTemplate) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("owner_access_key"),
	}
}
