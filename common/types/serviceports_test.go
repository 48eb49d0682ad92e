package types_test

import (
	"errors"
	"reflect"
	"testing"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

func TestParseServicePorts(t *testing.T) {
	t.Parallel()
	good := []struct {
		label string
		want  []types.ServicePort
	}{
		{"", nil},
		{" , ", nil},
		{"terminal:http:7681", []types.ServicePort{{"terminal", "http", 7681}}},
		{"jupyter:http:8080, ttyd:http:7681,sshd:tcp:2200", []types.ServicePort{{"jupyter", "http", 8080}, {"ttyd", "http", 7681}, {"sshd", "tcp", 2200}}},
		{"vscode:preopen:8180", []types.ServicePort{{"vscode", "preopen", 8180}}},
	}
	for _, c := range good {
		got, err := types.ParseServicePorts(c.label)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseServicePorts(%q) = %v, %v; want %v", c.label, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"terminal", "terminal:http", "terminal:http:7681:1", ":http:80", "a/b:http:80",
		"x:udp:80", "x:http:0", "x:http:65536", "x:http:port", "x:http:80,x:tcp:81",
	} {
		if _, err := types.ParseServicePorts(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseServicePorts(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}
