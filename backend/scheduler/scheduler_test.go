package scheduler_test

import (
	"reflect"
	"testing"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/resource"
)

func slots(cpu, memGiB float64) resource.Slots {
	return resource.Slots{resource.CPU: cpu, resource.Mem: memGiB * (1 << 30)}
}

func TestPlan(t *testing.T) {
	py := []string{"python:3.11-debian"}
	cases := []struct {
		name    string
		pending []scheduler.Pending
		agents  []scheduler.Agent
		want    []scheduler.Placement
	}{
		{
			name:    "concentrates on the fullest agent that fits",
			pending: []scheduler.Pending{{SessionID: "s1", Image: py[0], Requested: slots(1, 1)}},
			agents: []scheduler.Agent{
				{ID: "a", Available: slots(8, 16), Occupied: slots(1, 1), Images: py},
				{ID: "b", Available: slots(8, 16), Occupied: slots(6, 8), Images: py},
			},
			want: []scheduler.Placement{{SessionID: "s1", AgentID: "b"}},
		},
		{
			name: "never over-commits; later sessions still placed",
			pending: []scheduler.Pending{
				{SessionID: "s1", Image: py[0], Requested: slots(2, 1)},
				{SessionID: "s2", Image: py[0], Requested: slots(2, 1)},
				{SessionID: "big", Image: py[0], Requested: slots(64, 1)},
				{SessionID: "s3", Image: py[0], Requested: slots(1, 1)},
			},
			agents: []scheduler.Agent{{ID: "a", Available: slots(4, 16), Images: py}},
			want:   []scheduler.Placement{{SessionID: "s1", AgentID: "a"}, {SessionID: "s2", AgentID: "a"}},
		},
		{
			name:    "needs the image and the scaling group",
			pending: []scheduler.Pending{{SessionID: "s1", Image: "r:4", ScalingGroup: "gpu", Requested: slots(1, 1)}},
			agents: []scheduler.Agent{
				{ID: "a", ScalingGroup: "gpu", Available: slots(8, 16), Images: py},
				{ID: "b", ScalingGroup: "default", Available: slots(8, 16), Images: []string{"r:4"}},
				{ID: "c", ScalingGroup: "gpu", Available: slots(8, 16), Images: []string{"r:4"}},
			},
			want: []scheduler.Placement{{SessionID: "s1", AgentID: "c"}},
		},
		{
			name:    "no agents",
			pending: []scheduler.Pending{{SessionID: "s1", Image: py[0], Requested: slots(1, 1)}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := scheduler.Plan(c.pending, c.agents)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v want %+v", got, c.want)
			}
		})
	}
}
