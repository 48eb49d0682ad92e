package api_test

import (
	"reflect"
	"testing"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/internal/servertest"
)

// TestCreateServicePorts: the create answer lists the apps the image's
// ai.backend.service-ports label declares (the process runtime's image
// declares "terminal:http:7681"), as a fresh create and as a reuse of the
// same name, in Backend.AI's [{"name","protocol","ports":[port]}] form.
func TestCreateServicePorts(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	want := []apitypes.ServicePort{{Name: "terminal", Protocol: "http", Ports: []int{7681}}}
	for _, c := range []struct {
		name   string
		status int
	}{{"fresh create", 201}, {"reuse of the name", 200}} {
		r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "ports-1"}, nil)
		if r.Status != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.status)
		}
		var res apitypes.CreateSessionResult
		r.JSON(t, &res)
		if !reflect.DeepEqual(res.ServicePorts, want) {
			t.Errorf("%s: servicePorts %+v, want %+v (body %s)", c.name, res.ServicePorts, want, r.Body)
		}
	}
	if r := s.Do("DELETE", "/session/ports-1", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
}
