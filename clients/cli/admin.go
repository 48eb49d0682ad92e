package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/resource"
)

// adminCommand groups what operators do with a superadmin keypair: look at
// the fleet, drain agents, set scaling-group and resource-policy settings.
func (a *app) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operate the fleet and tenant limits (superadmin keypair)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.adminAgents(), a.adminDrain(true), a.adminDrain(false), a.adminGroups(), a.adminGroupSet(),
		a.adminPolicies(), a.adminPolicySet(), a.adminKeypairPolicy())
	return cmd
}

// slotsText renders slots as "cpu=2 mem=4g cuda.device=1" in a stable order.
func slotsText(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := map[string]int{"cpu": 0, "mem": 1} // then the rest, by name
	sort.Slice(keys, func(i, j int) bool {
		ri, iok := rank[keys[i]]
		rj, jok := rank[keys[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && k == "mem" {
			v = resource.FormatBytes(n)
			if n >= 1<<30 && n%(1<<30) != 0 {
				v = strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "g" // readable, not exact
			}
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func (a *app) adminAgents() *cobra.Command {
	return &cobra.Command{
		Use:   "agents",
		Short: "List agents with their capacity, occupancy and GPUs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			ags, err := c.Agents(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			if len(ags) == 0 {
				fmt.Fprintln(a.stderr, "no agents have registered; start one with `bai agent --manager URL`")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tGROUP\tSESSIONS\tOCCUPIED\tCAPACITY\tGPUS\tADDR")
			for _, ag := range ags {
				st := ag.Status
				switch {
				case st != "ALIVE":
				case !ag.Schedulable:
					st = "ALIVE (drained)"
				case len(ag.HealthProblems) > 0:
					st = "ALIVE (unhealthy: " + ag.HealthProblems[0] + ")"
				}
				var gpus []string
				for _, d := range ag.Devices {
					gpus = append(gpus, fmt.Sprint(d["model"]))
				}
				g := "-"
				if len(gpus) > 0 {
					g = fmt.Sprintf("%d× %s", len(gpus), gpus[0])
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", ag.ID, st, ag.ScalingGroup, ag.Sessions,
					slotsText(ag.OccupiedSlots), slotsText(ag.AvailableSlots), g, ag.Addr)
			}
			return tw.Flush()
		},
	}
}

func (a *app) adminDrain(drain bool) *cobra.Command {
	use, short := "drain AGENT", "Stop placing new sessions on an agent (its sessions keep running)"
	if !drain {
		use, short = "undrain AGENT", "Return a drained agent to service"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			if err := c.SetAgentSchedulable(cmd.Context(), args[0], !drain); err != nil {
				return a.fail(err)
			}
			return nil
		},
	}
}

func (a *app) adminGroups() *cobra.Command {
	return &cobra.Command{
		Use:   "scaling-groups",
		Short: "List scaling groups and their scheduling settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			gs, err := c.ScalingGroups(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tACTIVE\tSCHEDULER\tSELECTOR\tPENDING-TIMEOUT\tSCALER\tSCALER-IDLE")
			for _, g := range gs {
				sc := g.Scaler
				if sc == "" {
					sc = "-"
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%ds\t%s\t%ds\n", g.Name, g.IsActive, g.Scheduler, g.AgentSelector, g.PendingTimeout, sc, g.ScalerIdleSeconds)
			}
			return tw.Flush()
		},
	}
}

func (a *app) adminGroupSet() *cobra.Command {
	var in apitypes.GroupSettings
	var sched, sel, scaler string
	var pending, idle int
	var active bool
	cmd := &cobra.Command{
		Use:   "scaling-group NAME",
		Short: "Create or change a scaling group (only the flags given change)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("scheduler") {
				in.Scheduler = &sched
			}
			if f.Changed("selector") {
				in.AgentSelector = &sel
			}
			if f.Changed("pending-timeout") {
				in.PendingTimeout = &pending
			}
			if f.Changed("scaler") {
				in.Scaler = &scaler
			}
			if f.Changed("scaler-idle") {
				in.ScalerIdleSeconds = &idle
			}
			if f.Changed("active") {
				in.IsActive = &active
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			g, err := c.SetScalingGroup(cmd.Context(), args[0], in)
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintf(a.stdout, "%s: scheduler=%s selector=%s pending-timeout=%ds scaler=%q scaler-idle=%ds active=%v\n",
				g.Name, g.Scheduler, g.AgentSelector, g.PendingTimeout, g.Scaler, g.ScalerIdleSeconds, g.IsActive)
			return nil
		},
	}
	cmd.Flags().StringVar(&sched, "scheduler", "", "queue order: fifo, lifo or drf")
	cmd.Flags().StringVar(&sel, "selector", "", "agent choice: concentrated or dispersed")
	cmd.Flags().IntVar(&pending, "pending-timeout", 0, "cancel sessions pending longer than this many seconds (0: never)")
	cmd.Flags().StringVar(&scaler, "scaler", "", "exec:COMMAND or an http(s) webhook asked for agents (empty: none)")
	cmd.Flags().IntVar(&idle, "scaler-idle", 0, "drain and remove agents idle this many seconds (0: never)")
	cmd.Flags().BoolVar(&active, "active", true, "whether sessions may ask for this group")
	return cmd
}

func (a *app) adminPolicies() *cobra.Command {
	return &cobra.Command{
		Use:   "policies",
		Short: "List keypair resource policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			ps, err := c.ResourcePolicies(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTOTAL\tDEFAULT\tMAX-SESSIONS\tIDLE\tLIFETIME\tMAX-EXEC")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%ds\t%ds\t%ds\n", p.Name, slotsText(p.TotalResourceSlots), slotsText(p.DefaultSessionSlots),
					p.MaxConcurrentSessions, p.IdleTimeout, p.MaxSessionLifetime, p.MaxExecSeconds)
			}
			return tw.Flush()
		},
	}
}

// parseSlotFlag reads "cpu=4,mem=8g" into the API's slot map.
func parseSlotFlag(s string) (map[string]any, error) {
	out := map[string]any{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not SLOT=AMOUNT (e.g. cpu=4,mem=8g)", part)
		}
		out[k] = v
	}
	return out, nil
}

func (a *app) adminPolicySet() *cobra.Command {
	var in apitypes.PolicySettings
	var total, defaults string
	var maxSessions, idle, lifetime, maxExec, maxFolders int
	var maxFolderSize int64
	cmd := &cobra.Command{
		Use:   "policy NAME",
		Short: "Create or change a resource policy (only the flags given change)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var err error
			if f.Changed("total") {
				if in.TotalResourceSlots, err = parseSlotFlag(total); err != nil {
					return a.usageError(cmd, fmt.Errorf("--total: %w", err))
				}
			}
			if f.Changed("default") {
				if in.DefaultSessionSlots, err = parseSlotFlag(defaults); err != nil {
					return a.usageError(cmd, fmt.Errorf("--default: %w", err))
				}
			}
			for name, p := range map[string]**int{"max-sessions": &in.MaxConcurrentSessions, "idle-timeout": &in.IdleTimeout,
				"max-lifetime": &in.MaxSessionLifetime, "max-exec": &in.MaxExecSeconds, "max-folders": &in.MaxVfolderCount} {
				if f.Changed(name) {
					v, _ := f.GetInt(name)
					*p = &v
				}
			}
			if f.Changed("max-folder-size") {
				in.MaxVfolderSize = &maxFolderSize
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			p, err := c.SetResourcePolicy(cmd.Context(), args[0], in)
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintf(a.stdout, "%s: total=%s default=%s max-sessions=%d idle-timeout=%ds max-lifetime=%ds max-exec=%ds\n",
				p.Name, slotsText(p.TotalResourceSlots), slotsText(p.DefaultSessionSlots), p.MaxConcurrentSessions,
				p.IdleTimeout, p.MaxSessionLifetime, p.MaxExecSeconds)
			return nil
		},
	}
	cmd.Flags().StringVar(&total, "total", "", "total slots all of a keypair's sessions may hold, e.g. cpu=8,mem=16g,cuda.device=1 (empty: unlimited)")
	cmd.Flags().StringVar(&defaults, "default", "", "slots of a session that asks for none, e.g. cpu=1,mem=1g")
	cmd.Flags().IntVar(&maxSessions, "max-sessions", 0, "concurrent sessions per keypair (0: unlimited)")
	cmd.Flags().IntVar(&idle, "idle-timeout", 0, "terminate sessions idle this many seconds (0: never)")
	cmd.Flags().IntVar(&lifetime, "max-lifetime", 0, "terminate sessions older than this many seconds (0: never)")
	cmd.Flags().IntVar(&maxExec, "max-exec", 0, "longest single run in seconds (0: unlimited)")
	cmd.Flags().IntVar(&maxFolders, "max-folders", 0, "virtual folders a keypair may own (0: unlimited)")
	cmd.Flags().Int64Var(&maxFolderSize, "max-folder-size", 0, "bytes each of a keypair's folders may hold (0: unlimited)")
	return cmd
}

func (a *app) adminKeypairPolicy() *cobra.Command {
	return &cobra.Command{
		Use:   "keypair-policy ACCESS_KEY POLICY",
		Short: "Put a keypair under a resource policy",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			if err := c.SetKeyPairPolicy(cmd.Context(), args[0], args[1]); err != nil {
				return a.fail(err)
			}
			return nil
		},
	}
}
