package aproto

// Service ports (start-service and the app proxy), manager → agent:
//
//	POST /v1/kernels/{id}/start-service   StartService → ServiceResult
//	POST /v1/kernels/{id}/shutdown-service ShutdownService → 204
//	GET  /v1/kernels/{id}/proxy?port=N    Upgrade: bai-relay → 101, then the
//	                                      raw bytes of a TCP connection to
//	                                      127.0.0.1:N inside the container
//
// The relay upgrade is a hijacked HTTP/1.1 connection, not a WebSocket: the
// manager already frames the bytes for its client and only needs a byte pipe.

// RelayProtocol is the Upgrade token of the agent's proxy route.
const RelayProtocol = "bai-relay"

// StartService asks a kernel's runner to start one app.
type StartService struct {
	App       string            `json:"app"`
	Protocol  string            `json:"protocol"`
	Port      int               `json:"port"`
	Envs      map[string]string `json:"envs,omitempty"`
	Arguments map[string]any    `json:"arguments,omitempty"`
}

// ShutdownService asks a kernel's runner to stop one app.
type ShutdownService struct {
	App string `json:"app"`
}

// ServiceResult says the app is up and on which port in the container.
type ServiceResult struct {
	App  string `json:"app"`
	Port int    `json:"port"`
}
