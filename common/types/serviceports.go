package types

import (
	"fmt"
	"strconv"
	"strings"

	"baigo.dev/bai/common/errdefs"
)

// ServicePort is one app an image declares in its ai.backend.service-ports
// label.
type ServicePort struct {
	Name     string // e.g. "terminal"
	Protocol string // "http", "tcp" (or "preopen", which Backend.AI also uses)
	Port     int    // the port the app listens on inside the container
}

// ParseServicePorts reads an ai.backend.service-ports label:
// "name:protocol:port" entries separated by commas, e.g.
// "jupyter:http:8080,terminal:http:7681". An empty label declares no apps.
func ParseServicePorts(label string) ([]ServicePort, error) {
	var out []ServicePort
	seen := map[string]bool{}
	for _, item := range strings.Split(label, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("service port %q: want name:protocol:port: %w", item, errdefs.ErrInvalidArgument)
		}
		name, proto := parts[0], parts[1]
		if name == "" || strings.ContainsAny(name, " /") {
			return nil, fmt.Errorf("service port %q: bad app name: %w", item, errdefs.ErrInvalidArgument)
		}
		switch proto {
		case "http", "tcp", "preopen":
		default:
			return nil, fmt.Errorf("service port %q: protocol must be http, tcp or preopen: %w", item, errdefs.ErrInvalidArgument)
		}
		port, err := strconv.Atoi(parts[2])
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("service port %q: port must be 1-65535: %w", item, errdefs.ErrInvalidArgument)
		}
		if seen[name] {
			return nil, fmt.Errorf("service port %q: app %q declared twice: %w", item, name, errdefs.ErrInvalidArgument)
		}
		seen[name] = true
		out = append(out, ServicePort{Name: name, Protocol: proto, Port: port})
	}
	return out, nil
}
