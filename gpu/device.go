//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	vk "github.com/vulkan-go/vulkan"
)

// vkErr turns a failed Vulkan result into an error naming the call.
func vkErr(call string, r vk.Result) error {
	if r == vk.Success {
		return nil
	}
	return fmt.Errorf("gpu: %s: %w", call, vk.Error(r))
}

// cstr returns the Go string of a NUL-terminated byte array.
func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func newInstance() (vk.Instance, error) {
	if err := loadVulkan(); err != nil {
		return nil, err
	}
	var inst vk.Instance
	r := vk.CreateInstance(&vk.InstanceCreateInfo{
		SType: vk.StructureTypeInstanceCreateInfo,
		PApplicationInfo: &vk.ApplicationInfo{
			SType:            vk.StructureTypeApplicationInfo,
			PApplicationName: "strata\x00",
			PEngineName:      "strata\x00",
			ApiVersion:       vk.MakeVersion(1, 1, 0),
		},
	}, nil, &inst)
	if r != vk.Success {
		return nil, fmt.Errorf("%w: no Vulkan device (vkCreateInstance: %v)", ErrUnavailable, vk.Error(r))
	}
	if err := vk.InitInstance(inst); err != nil {
		vk.DestroyInstance(inst, nil)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return inst, nil
}

func physicalDevices(inst vk.Instance) ([]vk.PhysicalDevice, error) {
	var n uint32
	if err := vkErr("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(inst, &n, nil)); err != nil {
		return nil, err
	}
	pds := make([]vk.PhysicalDevice, n)
	if err := vkErr("vkEnumeratePhysicalDevices", vk.EnumeratePhysicalDevices(inst, &n, pds)); err != nil {
		return nil, err
	}
	return pds[:n], nil
}

var typeNames = map[vk.PhysicalDeviceType]string{
	vk.PhysicalDeviceTypeDiscreteGpu:   "discrete",
	vk.PhysicalDeviceTypeIntegratedGpu: "integrated",
	vk.PhysicalDeviceTypeVirtualGpu:    "virtual",
	vk.PhysicalDeviceTypeCpu:           "cpu",
	vk.PhysicalDeviceTypeOther:         "other",
}

// subgroupOpNames name VkSubgroupFeatureFlagBits, in their order.
var subgroupOpNames = []struct {
	bit  vk.SubgroupFeatureFlagBits
	name string
}{
	{vk.SubgroupFeatureBasicBit, "basic"}, {vk.SubgroupFeatureVoteBit, "vote"},
	{vk.SubgroupFeatureArithmeticBit, "arithmetic"}, {vk.SubgroupFeatureBallotBit, "ballot"},
	{vk.SubgroupFeatureShuffleBit, "shuffle"}, {vk.SubgroupFeatureShuffleRelativeBit, "shuffle_relative"},
	{vk.SubgroupFeatureClusteredBit, "clustered"}, {vk.SubgroupFeatureQuadBit, "quad"},
}

// typeRank orders device types by preference.
var typeRank = map[string]int{"discrete": 0, "integrated": 1, "virtual": 2, "other": 3, "cpu": 4}

func describe(inst vk.Instance, pd vk.PhysicalDevice, index int) DeviceInfo {
	var p vk.PhysicalDeviceProperties
	vk.GetPhysicalDeviceProperties(pd, &p)
	p.Deref()
	p.Limits.Deref()
	var mp vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(pd, &mp)
	mp.Deref()
	d := DeviceInfo{
		Index:            index,
		Name:             cstr(p.DeviceName[:]),
		Type:             typeNames[p.DeviceType],
		APIVersion:       fmt.Sprintf("%d.%d.%d", p.ApiVersion>>22, p.ApiVersion>>12&0x3ff, p.ApiVersion&0xfff),
		VendorID:         p.VendorID,
		DeviceID:         p.DeviceID,
		MaxStorageBuffer: uint64(p.Limits.MaxStorageBufferRange),
		MaxSharedMemory:  p.Limits.MaxComputeSharedMemorySize,
		MaxInvocations:   p.Limits.MaxComputeWorkGroupInvocations,
		MaxWorkgroups:    p.Limits.MaxComputeWorkGroupCount[:],
		MaxWorkgroupSize: p.Limits.MaxComputeWorkGroupSize[:],
		MaxAllocations:   p.Limits.MaxMemoryAllocationCount,
		MinOffsetAlign:   uint64(p.Limits.MinStorageBufferOffsetAlignment),
		TimestampPeriod:  p.Limits.TimestampPeriod,
		api:              p.ApiVersion,
	}
	if d.Type == "" {
		d.Type = "other"
	}
	sg, driver := properties2(inst, pd, p.ApiVersion)
	d.SubgroupSize, d.Driver = sg.size, driver
	if sg.stages&uint32(vk.ShaderStageComputeBit) != 0 {
		for _, f := range subgroupOpNames {
			if sg.operations&uint32(f.bit) != 0 {
				d.SubgroupOps = append(d.SubgroupOps, f.name)
			}
		}
	}
	for i := range mp.MemoryHeapCount {
		h := mp.MemoryHeaps[i]
		h.Deref()
		d.Heaps = append(d.Heaps, Heap{Size: uint64(h.Size), DeviceLocal: h.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0})
	}
	return d
}

// Devices lists the Vulkan devices of this machine.
func Devices() ([]DeviceInfo, error) {
	inst, err := newInstance()
	if err != nil {
		return nil, err
	}
	defer vk.DestroyInstance(inst, nil)
	pds, err := physicalDevices(inst)
	if err != nil {
		return nil, err
	}
	infos := make([]DeviceInfo, len(pds))
	for i, pd := range pds {
		infos[i] = describe(inst, pd, i)
	}
	return infos, nil
}

// choose returns the index of the requested device, or of the best one.
func choose(infos []DeviceInfo, want int) (int, error) {
	if len(infos) == 0 {
		return 0, fmt.Errorf("%w: no Vulkan device", ErrUnavailable)
	}
	if want >= 0 {
		if want >= len(infos) && len(infos) == 1 {
			return 0, fmt.Errorf("gpu: --device %d: there is 1 device (0)", want)
		}
		if want >= len(infos) {
			return 0, fmt.Errorf("gpu: --device %d: there are %d devices (0 to %d)", want, len(infos), len(infos)-1)
		}
		return want, nil
	}
	order := make([]int, len(infos))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return typeRank[infos[order[a]].Type] < typeRank[infos[order[b]].Type] })
	return order[0], nil
}

// computeQueue returns a queue family that runs compute and timestamps.
func computeQueue(c *calls, pd vk.PhysicalDevice) (family uint32, timestamps bool, err error) {
	for i, f := range c.queueFamilyList(pd) {
		if f.flags&vk.QueueFlags(vk.QueueComputeBit) != 0 {
			return uint32(i), f.timestamps, nil
		}
	}
	return 0, false, errors.New("gpu: the device has no compute queue")
}
