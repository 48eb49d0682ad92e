package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// KeyPair is an HMAC access key / secret key pair used to sign API requests.
type KeyPair struct{ ent.Schema }

// Fields of the KeyPair. The id is the access key.
func (KeyPair) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").StorageKey("access_key").NotEmpty().Immutable().Unique(),
		field.String("secret_key").NotEmpty().Sensitive(),
		field.Bool("is_active").Default(true),
		field.Bool("is_admin").Default(false),
		field.Int("rate_limit").Default(30000),
		field.String("resource_policy").Default("default"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used").Optional().Nillable(),
	}
}

// Edges of the KeyPair.
func (KeyPair) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("keypairs").Unique().Required(),
	}
}
