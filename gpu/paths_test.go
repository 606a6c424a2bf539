package gpu

import (
	"slices"
	"testing"
)

// lavapipe is a device as lavapipe describes itself.
func lavapipe() DeviceInfo {
	return DeviceInfo{Name: "llvmpipe", Type: "cpu", APIVersion: "1.3.230", api: 1<<22 | 3<<12 | 230,
		SubgroupSize: 8, SubgroupOps: []string{"basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative", "quad"},
		MaxInvocations: 1024, MaxWorkgroupSize: []uint32{1024, 1024, 1024}, MaxSharedMemory: 32768}
}

// TestCheckDevice checks that devices the shaders cannot run on are
// refused, saying why.
func TestCheckDevice(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*DeviceInfo)
		want   string
	}{
		{"fine", func(*DeviceInfo) {}, ""},
		{"Vulkan 1.0", func(d *DeviceInfo) { d.api, d.APIVersion = 1<<22|0<<12|198, "1.0.198" },
			"gpu: llvmpipe supports Vulkan 1.0.198; strata needs Vulkan 1.1 or later (SPIR-V 1.3)"},
		{"small workgroups", func(d *DeviceInfo) { d.MaxInvocations = 128 },
			"gpu: llvmpipe runs workgroups of at most 128 invocations ([1024 1024 1024] per dimension); strata's shaders need 256"},
		{"narrow workgroups", func(d *DeviceInfo) { d.MaxWorkgroupSize = []uint32{128, 128, 64} },
			"gpu: llvmpipe runs workgroups of at most 1024 invocations ([128 128 64] per dimension); strata's shaders need 256"},
		{"little shared memory", func(d *DeviceInfo) { d.MaxSharedMemory = 1024 },
			"gpu: llvmpipe has 1024 bytes of shared memory a workgroup; strata's shaders need 2048"},
	} {
		d := lavapipe()
		c.change(&d)
		err := checkDevice(&d)
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("%s: accepted, want %q", c.name, c.want)
		}
	}
}

// TestChoosePaths checks each optional feature is used only where the
// device reports it, that a masked or missing one names its fallback,
// and what a profile changes.
func TestChoosePaths(t *testing.T) {
	noShuffle := func(d *DeviceInfo) { d.SubgroupOps = []string{"basic", "vote", "arithmetic", "ballot"} }
	discrete := func(d *DeviceInfo) {
		d.Type, d.SubgroupSize, d.SubgroupOps = "discrete", 32, []string{"basic", "shuffle"}
	}
	for _, c := range []struct {
		name    string
		change  func(*DeviceInfo)
		profile string
		want    paths
		err     string
	}{
		{"lavapipe", func(*DeviceInfo) {}, "", paths{local: 64, subgroupOps: true}, ""},
		{"lavapipe as a GPU", func(*DeviceInfo) {}, "gpu", paths{gpuRows: true, local: 32, subgroupOps: true}, ""},
		{"subgroup=64", func(*DeviceInfo) {}, "subgroup=64", paths{gpuRows: true, local: 64, subgroupOps: true}, ""},
		{"masked", func(*DeviceInfo) {}, "subgroup=32,subgroup-ops=off", paths{gpuRows: true, local: 32,
			fallbacks: []string{"subgroup-ops masked by the profile: matrix products reduce in shared memory"}}, ""},
		{"discrete", discrete, "", paths{gpuRows: true, local: 32, subgroupOps: true}, ""},
		{"wave64", func(d *DeviceInfo) { discrete(d); d.SubgroupSize = 64 }, "", paths{gpuRows: true, local: 64, subgroupOps: true}, ""},
		{"no shuffles", func(d *DeviceInfo) { discrete(d); noShuffle(d) }, "", paths{gpuRows: true, local: 32,
			fallbacks: []string{"the device has no subgroup shuffles in compute shaders: matrix products reduce in shared memory"}}, ""},
		{"odd subgroups", func(d *DeviceInfo) { discrete(d); d.SubgroupSize = 24 }, "", paths{gpuRows: true, local: 32,
			fallbacks: []string{"the device's subgroups of 24 are not a power of two: matrix products reduce in shared memory"}}, ""},
		{"forced on, missing", noShuffle, "subgroup-ops=on", paths{},
			`gpu: profile "subgroup-ops=on": subgroup-ops=on, but llvmpipe has no subgroup shuffles in compute shaders (subgroups of 8)`},
	} {
		d := lavapipe()
		c.change(&d)
		p, err := parseProfile(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		got, err := choosePaths(&d, p)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got.gpuRows != c.want.gpuRows || got.local != c.want.local || got.subgroupOps != c.want.subgroupOps ||
			!slices.Equal(got.fallbacks, c.want.fallbacks) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}
