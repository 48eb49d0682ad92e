package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Image is a kernel image known from agents' heartbeats.
type Image struct{ ent.Schema }

// Fields of the Image. The id is the canonical name ("python:3.11-debian").
func (Image) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("name").NotEmpty().Immutable().Unique(),
		field.String("ref").Default(""),
		field.String("runtime_type").Default(""),
		field.String("runtime_path").Default(""),
		field.JSON("labels", map[string]string{}).Optional(),
		field.JSON("aliases", []string{}).Optional(),
		field.JSON("min_resources", map[string]float64{}).Optional(),
		field.Int64("size").Default(0),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}
