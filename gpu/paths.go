package gpu

import (
	"fmt"
	"slices"
)

// paths are the code paths the backend takes on a device.
type paths struct {
	gpuRows     bool     // weight rows are shared among threads (a GPU, or a profile)
	local       uint32   // matmul's workgroup size
	subgroupOps bool     // matmul's reductions use subgroup shuffles
	fallbacks   []string // what is done instead of each optional feature not used
}

// Requirements every device must meet: Vulkan 1.1 (SPIR-V 1.3, subgroup
// properties) and the largest workgroup the shaders declare.
const (
	minAPI          = 1<<22 | 1<<12 // VK_MAKE_VERSION(1, 1, 0)
	maxLocalSize    = 256           // rmsnorm, add, swiglu, kvstore
	maxSharedMemory = 8 * 64 * 4    // matmul's partial sums; attention takes 2 KiB
)

// checkDevice refuses a device strata's shaders cannot run on, saying why.
func checkDevice(d *DeviceInfo) error {
	if d.api < minAPI {
		return fmt.Errorf("gpu: %s supports Vulkan %s; strata needs Vulkan 1.1 or later (SPIR-V 1.3)", d.Name, d.APIVersion)
	}
	if d.MaxInvocations < maxLocalSize || len(d.MaxWorkgroupSize) == 0 || d.MaxWorkgroupSize[0] < maxLocalSize {
		return fmt.Errorf("gpu: %s runs workgroups of at most %d invocations (%v per dimension); strata's shaders need %d",
			d.Name, d.MaxInvocations, d.MaxWorkgroupSize, maxLocalSize)
	}
	if d.MaxSharedMemory < maxSharedMemory {
		return fmt.Errorf("gpu: %s has %d bytes of shared memory a workgroup; strata's shaders need %d", d.Name, d.MaxSharedMemory, maxSharedMemory)
	}
	return nil
}

// choosePaths decides the code paths on a device under a profile. An
// optional feature is used only where the device reports it, else its
// fallback is taken and named; a profile that forces on a feature the
// device lacks is refused.
func choosePaths(d *DeviceInfo, p profile) (paths, error) {
	var c paths
	c.gpuRows = d.Type != "cpu" || p.gpuRows
	c.local = 64
	if c.gpuRows {
		sg := d.SubgroupSize
		if p.subgroup != 0 {
			sg = p.subgroup
		}
		c.local = min(max(sg, 32), 64) // one subgroup of 32 or 64, or two of 16, …
	}
	shuffles := slices.Contains(d.SubgroupOps, "basic") && slices.Contains(d.SubgroupOps, "shuffle")
	pow2 := d.SubgroupSize > 0 && d.SubgroupSize&(d.SubgroupSize-1) == 0
	const shared = "matrix products reduce in shared memory"
	switch want, set := p.features[featureSubgroupOps]; {
	case set && want && !(shuffles && pow2):
		return paths{}, fmt.Errorf("gpu: profile %q: %s=on, but %s has no subgroup shuffles in compute shaders (subgroups of %d)",
			p.text, featureSubgroupOps, d.Name, d.SubgroupSize)
	case set && !want:
		c.fallbacks = append(c.fallbacks, featureSubgroupOps+" masked by the profile: "+shared)
	case !shuffles:
		c.fallbacks = append(c.fallbacks, "the device has no subgroup shuffles in compute shaders: "+shared)
	case !pow2:
		c.fallbacks = append(c.fallbacks, fmt.Sprintf("the device's subgroups of %d are not a power of two: %s", d.SubgroupSize, shared))
	default:
		c.subgroupOps = true
	}
	return c, nil
}
