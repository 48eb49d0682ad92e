package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// WebSession is a browser's signed-in session with the web app. The cookie
// holds a random value; the id is its SHA-256, so a copy of the database
// does not hand out live cookies.
type WebSession struct{ ent.Schema }

// Fields of the WebSession.
func (WebSession) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().Immutable().Unique(),
		// AccessKey is the keypair the browser acts as.
		field.String("access_key").NotEmpty().Immutable(),
		// CSRFToken must come back in X-CSRF-Token on every state-changing
		// request that the cookie authenticates.
		field.String("csrf_token").NotEmpty().Immutable().Sensitive(),
		field.Enum("auth_method").Values("keypair", "oidc").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		// ExpiresAt is the absolute end; LastSeen plus the idle timeout
		// ends it earlier when the browser goes quiet.
		field.Time("expires_at").Immutable(),
		field.Time("last_seen").Default(time.Now),
	}
}

// Indexes of the WebSession: the sweeper looks for old ones, logout-all
// for a keypair's.
func (WebSession) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
		index.Fields("last_seen"),
		index.Fields("access_key"),
	}
}

// OIDCLogin is one sign-in through the OpenID provider in progress: what
// the callback needs to check the answer (state, nonce, PKCE verifier) and
// where to go afterwards. It is deleted when the callback uses it, so a
// state works once.
type OIDCLogin struct{ ent.Schema }

// Fields of the OIDCLogin.
func (OIDCLogin) Fields() []ent.Field {
	return []ent.Field{
		// The id is the SHA-256 of the state parameter.
		field.String("id").NotEmpty().Immutable().Unique(),
		// Browser is the SHA-256 of the cookie that ties the login to the
		// browser that started it.
		field.String("browser").NotEmpty().Immutable().Sensitive(),
		field.String("nonce").NotEmpty().Immutable().Sensitive(),
		field.String("verifier").NotEmpty().Immutable().Sensitive(),
		field.String("redirect_url").NotEmpty().Immutable(),
		field.String("next").Default("/").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes of the OIDCLogin.
func (OIDCLogin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}
