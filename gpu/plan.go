//go:build cgo

package gpu

import (
	"log/slog"
	"slices"
)

// plan checks the device and decides the code paths the backend takes
// on it under a profile (choosePaths); the fallbacks are named in
// Fallbacks and the log.
func (g *Backend) plan(text string) error {
	p, err := parseProfile(text)
	if err != nil {
		return err
	}
	if err := checkDevice(&g.info); err != nil {
		return err
	}
	c, err := choosePaths(&g.info, p)
	if err != nil {
		return err
	}
	g.profile, g.paths = p, c
	for _, f := range c.fallbacks {
		slog.Debug("gpu: " + f)
	}
	if p.text != "" {
		slog.Info("gpu: profile "+ProfileEnv+"="+p.text, "device", g.info.Name, "rows_shared", c.gpuRows,
			"workgroup", c.local, "subgroup_ops", c.subgroupOps, "fallbacks", c.fallbacks)
	}
	return nil
}

// Fallbacks names what the backend does instead of each optional
// feature it does not use (the device lacks it, or the profile masks it).
func (g *Backend) Fallbacks() []string { return slices.Clone(g.fallbacks) }

// Profile is the profile the backend runs under ("" for none).
func (g *Backend) Profile() string { return g.profile.text }
