// Package gpu is strata's Vulkan backend: it runs the forward pass as
// SPIR-V compute shaders (package shaders) on any Vulkan device, a
// discrete or integrated GPU or a CPU implementation such as Mesa's
// lavapipe. It is the only package that uses cgo or calls Vulkan.
//
// Operations are queued as a list of dispatches. When the list is the
// same as the one last submitted (every decode step of a model is), the
// recorded command buffer is submitted again; only the values that change
// (positions, token ids, rotary tables, input rows) are rewritten, in a
// host-visible buffer the shaders read. Barriers are placed only between
// dispatches that touch a buffer another wrote. An Add of the output of
// the matrix product just queued is folded into that product's epilogue
// (the same addition: one dispatch and barrier fewer for each residual).
//
// The device is checked at New (Vulkan 1.1, workgroup and shared-memory
// limits), and each optional feature (subgroup shuffles) is used only
// where it is reported, else a fallback that computes the same bits is
// taken and named (Fallbacks). STRATA_VK_PROFILE (Options.Profile) makes
// a device take another's paths, so that lavapipe runs a GPU's.
//
// Without cgo the package still builds; New and Devices then report
// ErrUnavailable.
package gpu

import (
	"errors"
	"time"
)

// ErrUnavailable reports that Vulkan cannot be used: no loader, no
// device, or a build without cgo.
var ErrUnavailable = errors.New("gpu: Vulkan is not available")

// Options configure New. The zero value picks the best device.
type Options struct {
	// Device is the index of the device to use, as Devices lists them;
	// -1 picks the best: a discrete GPU, then an integrated one, then any
	// other, then a CPU implementation.
	Device int
	// GPUOnly refuses, when Device is -1, a best device that is a CPU
	// implementation of Vulkan (lavapipe): strata's own CPU backend is
	// faster than one.
	GPUOnly bool
	// MaxBuffer caps the size of one buffer below the device's storage
	// buffer range, so that tensors are split sooner; 0: the device's range.
	MaxBuffer uint64
	// PipelineCache is the file that keeps compiled pipelines between
	// runs; "" is a file under the user's cache directory, "-" none.
	PipelineCache string
	// Profile makes the device take another device's code paths (see
	// ProfileEnv): "gpu", "subgroup=32", "subgroup-ops=off", …; "": the
	// device's own.
	Profile string
}

// DeviceInfo describes a Vulkan device.
type DeviceInfo struct {
	Index            int      `json:"index"`
	Name             string   `json:"name"`
	Type             string   `json:"type"` // discrete, integrated, virtual, cpu, other
	APIVersion       string   `json:"api_version"`
	Driver           string   `json:"driver"`
	VendorID         uint32   `json:"vendor_id"`
	DeviceID         uint32   `json:"device_id"`
	Heaps            []Heap   `json:"heaps"`
	SubgroupSize     uint32   `json:"subgroup_size"`
	SubgroupOps      []string `json:"subgroup_operations"` // in compute shaders: basic, vote, arithmetic, ballot, shuffle, …
	MaxStorageBuffer uint64   `json:"max_storage_buffer_range"`
	MaxSharedMemory  uint32   `json:"max_compute_shared_memory"`
	MaxInvocations   uint32   `json:"max_compute_workgroup_invocations"`
	MaxWorkgroups    []uint32 `json:"max_compute_workgroup_count"`
	MaxWorkgroupSize []uint32 `json:"max_compute_workgroup_size"`
	MaxAllocations   uint32   `json:"max_memory_allocations"`
	MinOffsetAlign   uint64   `json:"min_storage_buffer_offset_alignment"`
	TimestampPeriod  float32  `json:"timestamp_period_ns"`

	api uint32 // the API version, VK_MAKE_VERSION
}

// Heap is a memory heap of a device.
type Heap struct {
	Size        uint64 `json:"size"`
	DeviceLocal bool   `json:"device_local"`
}

// Timer is what the Vulkan backend offers benchmarks: device time of
// queued work, and the device's copy bandwidth.
type Timer interface {
	// Time runs the work fn queues and returns its device time.
	Time(fn func()) (time.Duration, error)
	// CopyBandwidth is bytes read plus written per second by a buffer copy.
	CopyBandwidth(size uint64) (float64, error)
}
