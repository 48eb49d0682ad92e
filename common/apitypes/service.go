package apitypes

// StartService is the body of POST /session/{name}/start-service.
type StartService struct {
	App string `json:"app"`
	// Port, when set, must be the app's port from the image's
	// ai.backend.service-ports label: apps listen where the image says.
	Port      int               `json:"port,omitempty"`
	Envs      map[string]string `json:"envs,omitempty"`
	Arguments map[string]any    `json:"arguments,omitempty"`
}

// ShutdownService is the body of POST /session/{name}/shutdown-service.
// Backend.AI's clients send service_name; app is accepted as well.
type ShutdownService struct {
	ServiceName string `json:"service_name,omitempty"`
	App         string `json:"app,omitempty"`
}

// StartServiceResult is the answer to start-service.
type StartServiceResult struct {
	App      string `json:"app"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"` // the app's port inside the session
}
