// Package scheduler decides where pending sessions run. It is pure: it gets
// a read-only snapshot of pending sessions and agent capacities and returns
// a plan, so it is tested without a server or a database.
package scheduler

import (
	"sort"

	"baigo.dev/bai/common/resource"
)

// Pending is a session waiting for placement, in queue order.
type Pending struct {
	SessionID    string
	ScalingGroup string
	Image        string // canonical image name
	Requested    resource.Slots
}

// Agent is an agent's capacity at snapshot time.
type Agent struct {
	ID           string
	ScalingGroup string
	Available    resource.Slots // total capacity
	Occupied     resource.Slots
	Images       []string // canonical image names present on the agent
}

// Placement assigns a session to an agent.
type Placement struct {
	SessionID string
	AgentID   string
}

// Plan places sessions FIFO, each on the agent that fits it and has the
// least free capacity left ("concentrated"), so large holes stay free for
// large sessions. A session that fits nowhere is skipped, not blocking the
// ones behind it. The snapshot is not modified.
func Plan(pending []Pending, agents []Agent) []Placement {
	occ := make([]resource.Slots, len(agents))
	for i, a := range agents {
		occ[i] = resource.Slots{}.Add(a.Occupied)
	}
	var out []Placement
	for _, p := range pending {
		best := -1
		var bestFree float64
		for i, a := range agents {
			if p.ScalingGroup != "" && a.ScalingGroup != p.ScalingGroup {
				continue
			}
			if !hasImage(a.Images, p.Image) {
				continue
			}
			free := a.Available.Sub(occ[i])
			if ok, _ := resource.Fits(p.Requested, free); !ok {
				continue
			}
			score := free[resource.CPU]*1e12 + free[resource.Mem]
			if best < 0 || score < bestFree || (score == bestFree && a.ID < agents[best].ID) {
				best, bestFree = i, score
			}
		}
		if best < 0 {
			continue
		}
		occ[best] = occ[best].Add(p.Requested)
		out = append(out, Placement{SessionID: p.SessionID, AgentID: agents[best].ID})
	}
	return out
}

func hasImage(images []string, name string) bool {
	i := sort.SearchStrings(images, name)
	if i < len(images) && images[i] == name {
		return true
	}
	for _, im := range images { // tolerate unsorted input
		if im == name {
			return true
		}
	}
	return false
}
