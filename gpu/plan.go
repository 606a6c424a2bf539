//go:build cgo

package gpu

import (
	"fmt"
	"log/slog"
	"slices"
)

// plan decides the code paths the backend takes on its device, under a
// profile: how matrix products share rows among threads, their
// workgroup size, and which optional features they use. A feature is
// used only where the device reports it; otherwise its fallback is
// taken and named in Fallbacks and the log.
func (g *Backend) plan(text string) error {
	p, err := parseProfile(text)
	if err != nil {
		return err
	}
	g.profile = p
	g.gpuRows = g.info.Type != "cpu" || p.gpuRows
	g.local = 64
	if g.gpuRows {
		sg := g.info.SubgroupSize
		if p.subgroup != 0 {
			sg = p.subgroup
		}
		g.local = min(max(sg, 32), 64) // one subgroup of 32 or 64, or two of 16, …
	}
	hasShuffle := slices.Contains(g.info.SubgroupOps, "basic") && slices.Contains(g.info.SubgroupOps, "shuffle")
	switch want, set := p.features[featureSubgroupOps]; {
	case set && want && !hasShuffle:
		return fmt.Errorf("gpu: profile %q: %s=on, but %s reports no subgroup shuffles in compute shaders", p.text, featureSubgroupOps, g.info.Name)
	case set && !want:
		g.fallback(featureSubgroupOps + " masked by the profile: matrix products reduce in shared memory")
	case !hasShuffle:
		g.fallback("the device has no subgroup shuffles: matrix products reduce in shared memory")
	default:
		g.subgroupOps = true
	}
	if p.text != "" {
		slog.Info("gpu: profile "+ProfileEnv+"="+p.text, "device", g.info.Name, "rows_shared", g.gpuRows,
			"workgroup", g.local, "subgroup_ops", g.subgroupOps, "fallbacks", g.fallbacks)
	}
	return nil
}

// fallback records, and logs, a fallback the backend takes.
func (g *Backend) fallback(what string) {
	g.fallbacks = append(g.fallbacks, what)
	slog.Debug("gpu: " + what)
}

// Fallbacks names what the backend does instead of each optional
// feature it does not use (the device lacks it, or the profile masks it).
func (g *Backend) Fallbacks() []string { return slices.Clone(g.fallbacks) }

// Profile is the profile the backend runs under ("" for none).
func (g *Backend) Profile() string { return g.profile.text }
