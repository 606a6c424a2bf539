package gpu

import (
	"fmt"
	"slices"
	"strings"
)

// ProfileEnv is the environment variable the command line reads
// Options.Profile from.
const ProfileEnv = "STRATA_VK_PROFILE"

// A profile makes the backend take the code paths of another kind of
// device, so that a CPU implementation of Vulkan (lavapipe) runs what a
// discrete GPU would: rows of a matrix product shared among threads,
// workgroups planned for a subgroup of 32 or 64, and each optional
// feature forced on or masked off. Its text is a comma-separated list:
//
//	gpu               share each weight row among threads by its length, as on a GPU
//	subgroup=32|64    plan workgroups for subgroups of that size (implies gpu)
//	FEATURE=on|off    use an optional feature (on: fail where the device lacks it) or mask it
//
// The features are those the backend uses: subgroup-ops (subgroup
// shuffles in the matrix products' reductions; the fallback reduces in
// shared memory, to the same bits).
type profile struct {
	text     string
	gpuRows  bool
	subgroup uint32          // 0: the device's
	features map[string]bool // feature: forced on (true) or masked off (false)
}

// Optional features, by their profile names.
const featureSubgroupOps = "subgroup-ops"

var features = []string{featureSubgroupOps}

const profileSyntax = "want gpu, subgroup=32|64 or FEATURE=on|off, FEATURE one of " + featureSubgroupOps

// parseProfile reads a profile's text; "" is none.
func parseProfile(s string) (profile, error) {
	p := profile{text: s, features: map[string]bool{}}
	if strings.TrimSpace(s) == "" {
		return profile{}, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		key, value, hasValue := strings.Cut(item, "=")
		switch {
		case item == "gpu":
			p.gpuRows = true
		case key == "subgroup" && hasValue:
			switch value {
			case "32":
				p.subgroup = 32
			case "64":
				p.subgroup = 64
			default:
				return profile{}, fmt.Errorf("gpu: profile %q: subgroup=%s: the size must be 32 or 64", s, value)
			}
			p.gpuRows = true
		case hasValue && isFeature(key):
			switch value {
			case "on":
				p.features[key] = true
			case "off":
				p.features[key] = false
			default:
				return profile{}, fmt.Errorf("gpu: profile %q: %s=%s: want on or off", s, key, value)
			}
		default:
			return profile{}, fmt.Errorf("gpu: profile %q: unknown item %q (%s)", s, item, profileSyntax)
		}
	}
	return p, nil
}

func isFeature(name string) bool { return slices.Contains(features, name) }

// Validate reports an option New cannot honour: a profile that does not parse.
func (o Options) Validate() error {
	_, err := parseProfile(o.Profile)
	return err
}
