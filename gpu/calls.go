//go:build cgo

package gpu

/*
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

// The structures of these calls are built here, on the C stack, and live
// until the command returns. vulkan-go builds its copies in C memory that a
// Go finalizer frees once the Go side no longer refers to them, which can
// happen while the command is still reading them (seen as a SIGSEGV inside
// vkCreateComputePipelines under GC pressure), and it keeps Go pointers in
// C memory where the collector cannot see them.

// STRATA_HANDLE returns the result of a command that makes a handle, and
// clears the handle when the command failed (it is undefined then).
#define STRATA_HANDLE(call, out) \
	do { \
		VkResult r_ = (call); \
		if (r_ != VK_SUCCESS) *(out) = VK_NULL_HANDLE; \
		return r_; \
	} while (0)

// STRATA_MAX_BINDINGS is the most storage buffers a set of strata's has.
#define STRATA_MAX_BINDINGS 8

static void *strata_proc(void *gipa, VkInstance inst, const char *name) {
	return (void *)((PFN_vkGetInstanceProcAddr)gipa)(inst, name);
}

static void strata_queue_families(void *f, VkPhysicalDevice pd, uint32_t *n, VkQueueFamilyProperties *out) {
	((PFN_vkGetPhysicalDeviceQueueFamilyProperties)f)(pd, n, out);
}

static VkResult strata_create_device(void *f, VkPhysicalDevice pd, uint32_t family, VkDevice *out) {
	float priority = 1.0f;
	VkDeviceQueueCreateInfo q;
	memset(&q, 0, sizeof q);
	q.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
	q.queueFamilyIndex = family;
	q.queueCount = 1;
	q.pQueuePriorities = &priority;
	VkDeviceCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
	info.queueCreateInfoCount = 1;
	info.pQueueCreateInfos = &q;
	STRATA_HANDLE(((PFN_vkCreateDevice)f)(pd, &info, NULL, out), out);
}

static VkResult strata_create_shader_module(void *f, VkDevice dev, const uint32_t *code, size_t size,
                                            VkShaderModule *out) {
	VkShaderModuleCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
	info.codeSize = size;
	info.pCode = code;
	STRATA_HANDLE(((PFN_vkCreateShaderModule)f)(dev, &info, NULL, out), out);
}

// strata_create_set_layout makes a layout of n storage buffers, bindings 0
// to n-1; n is at most STRATA_MAX_BINDINGS.
static VkResult strata_create_set_layout(void *f, VkDevice dev, uint32_t n, VkDescriptorSetLayout *out) {
	VkDescriptorSetLayoutBinding b[STRATA_MAX_BINDINGS];
	memset(b, 0, sizeof b);
	for (uint32_t i = 0; i < n; i++) {
		b[i].binding = i;
		b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		b[i].descriptorCount = 1;
		b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	}
	VkDescriptorSetLayoutCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
	info.bindingCount = n;
	info.pBindings = b;
	STRATA_HANDLE(((PFN_vkCreateDescriptorSetLayout)f)(dev, &info, NULL, out), out);
}

static VkResult strata_create_pipeline_layout(void *f, VkDevice dev, VkDescriptorSetLayout set, uint32_t push,
                                              VkPipelineLayout *out) {
	VkPushConstantRange r;
	memset(&r, 0, sizeof r);
	r.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	r.size = push;
	VkPipelineLayoutCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
	info.setLayoutCount = 1;
	info.pSetLayouts = &set;
	info.pushConstantRangeCount = 1;
	info.pPushConstantRanges = &r;
	STRATA_HANDLE(((PFN_vkCreatePipelineLayout)f)(dev, &info, NULL, out), out);
}

// strata_create_pipeline compiles module's main; local, where special is
// not 0, is specialization constant 0 (the workgroup size).
static VkResult strata_create_pipeline(void *f, VkDevice dev, VkPipelineCache cache, VkShaderModule module,
                                       VkPipelineLayout layout, int special, uint32_t local, VkPipeline *out) {
	VkSpecializationMapEntry entry;
	memset(&entry, 0, sizeof entry);
	entry.constantID = 0;
	entry.offset = 0;
	entry.size = sizeof local;
	VkSpecializationInfo spec;
	memset(&spec, 0, sizeof spec);
	spec.mapEntryCount = 1;
	spec.pMapEntries = &entry;
	spec.dataSize = sizeof local;
	spec.pData = &local;
	VkComputePipelineCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
	info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
	info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
	info.stage.module = module;
	info.stage.pName = "main";
	info.stage.pSpecializationInfo = special ? &spec : NULL;
	info.layout = layout;
	STRATA_HANDLE(((PFN_vkCreateComputePipelines)f)(dev, cache, 1, &info, NULL, out), out);
}

static VkResult strata_create_descriptor_pool(void *f, VkDevice dev, uint32_t sets, uint32_t buffers,
                                              VkDescriptorPool *out) {
	VkDescriptorPoolSize size;
	memset(&size, 0, sizeof size);
	size.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
	size.descriptorCount = buffers;
	VkDescriptorPoolCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
	info.maxSets = sets;
	info.poolSizeCount = 1;
	info.pPoolSizes = &size;
	STRATA_HANDLE(((PFN_vkCreateDescriptorPool)f)(dev, &info, NULL, out), out);
}

static VkResult strata_allocate_set(void *f, VkDevice dev, VkDescriptorPool pool, VkDescriptorSetLayout layout,
                                    VkDescriptorSet *out) {
	VkDescriptorSetAllocateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
	info.descriptorPool = pool;
	info.descriptorSetCount = 1;
	info.pSetLayouts = &layout;
	STRATA_HANDLE(((PFN_vkAllocateDescriptorSets)f)(dev, &info, out), out);
}

// strata_write_set points bindings 0 to n-1 of set at the whole of bufs[i]
// (sizes[i] bytes); n is at most STRATA_MAX_BINDINGS.
static void strata_write_set(void *f, VkDevice dev, VkDescriptorSet set, uint32_t n, const VkBuffer *bufs,
                            const uint64_t *sizes) {
	VkDescriptorBufferInfo b[STRATA_MAX_BINDINGS];
	VkWriteDescriptorSet w[STRATA_MAX_BINDINGS];
	memset(b, 0, sizeof b);
	memset(w, 0, sizeof w);
	for (uint32_t i = 0; i < n; i++) {
		b[i].buffer = bufs[i];
		b[i].range = sizes[i];
		w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
		w[i].dstSet = set;
		w[i].dstBinding = i;
		w[i].descriptorCount = 1;
		w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		w[i].pBufferInfo = &b[i];
	}
	((PFN_vkUpdateDescriptorSets)f)(dev, n, w, 0, NULL);
}

static VkResult strata_begin(void *f, VkCommandBuffer cmd, VkCommandBufferUsageFlags flags) {
	VkCommandBufferBeginInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
	info.flags = flags;
	return ((PFN_vkBeginCommandBuffer)f)(cmd, &info);
}

static void strata_barrier(void *f, VkCommandBuffer cmd, VkPipelineStageFlags src, VkPipelineStageFlags dst,
                           VkAccessFlags srcAccess, VkAccessFlags dstAccess) {
	VkMemoryBarrier b;
	memset(&b, 0, sizeof b);
	b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
	b.srcAccessMask = srcAccess;
	b.dstAccessMask = dstAccess;
	((PFN_vkCmdPipelineBarrier)f)(cmd, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
}

static void strata_copy(void *f, VkCommandBuffer cmd, VkBuffer src, VkBuffer dst, uint64_t srcOff, uint64_t dstOff,
                        uint64_t size) {
	VkBufferCopy c;
	c.srcOffset = srcOff;
	c.dstOffset = dstOff;
	c.size = size;
	((PFN_vkCmdCopyBuffer)f)(cmd, src, dst, 1, &c);
}

static VkResult strata_submit(void *f, VkQueue queue, VkCommandBuffer cmd, VkFence fence) {
	VkSubmitInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
	info.commandBufferCount = 1;
	info.pCommandBuffers = &cmd;
	return ((PFN_vkQueueSubmit)f)(queue, 1, &info, fence);
}

static VkResult strata_create_cache(void *f, VkDevice dev, const void *data, size_t size, VkPipelineCache *out) {
	VkPipelineCacheCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
	info.initialDataSize = size;
	info.pInitialData = data;
	STRATA_HANDLE(((PFN_vkCreatePipelineCache)f)(dev, &info, NULL, out), out);
}

// strata_create_buffer makes a storage buffer that copies read and write.
static VkResult strata_create_buffer(void *f, VkDevice dev, uint64_t size, VkBuffer *out) {
	VkBufferCreateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
	info.size = size;
	info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
	info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
	STRATA_HANDLE(((PFN_vkCreateBuffer)f)(dev, &info, NULL, out), out);
}

static VkResult strata_allocate_memory(void *f, VkDevice dev, uint64_t size, uint32_t type, VkDeviceMemory *out) {
	VkMemoryAllocateInfo info;
	memset(&info, 0, sizeof info);
	info.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
	info.allocationSize = size;
	info.memoryTypeIndex = type;
	STRATA_HANDLE(((PFN_vkAllocateMemory)f)(dev, &info, NULL, out), out);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// A set's bindings are built in C arrays of STRATA_MAX_BINDINGS; this fails
// to compile if maxBindings outgrows them.
var _ [C.STRATA_MAX_BINDINGS - maxBindings]struct{}

// calls holds the Vulkan commands whose structures strata builds itself,
// in C (see the comment above), looked up through the instance.
type calls struct {
	queueFamilies, createDevice, createShaderModule, createSetLayout, createPipelineLayout,
	createPipeline, createCache, createBuffer, allocateMemory, createDescriptorPool, allocateSet,
	writeSet, begin, barrier, copy, submit unsafe.Pointer
}

// loadCalls looks the commands up for inst; the loader has a
// vkGetInstanceProcAddr by then.
func loadCalls(inst vk.Instance) (calls, error) {
	var c calls
	for _, e := range []struct {
		name string
		to   *unsafe.Pointer
	}{
		{"vkGetPhysicalDeviceQueueFamilyProperties", &c.queueFamilies},
		{"vkCreateDevice", &c.createDevice},
		{"vkCreateShaderModule", &c.createShaderModule},
		{"vkCreateDescriptorSetLayout", &c.createSetLayout},
		{"vkCreatePipelineLayout", &c.createPipelineLayout},
		{"vkCreateComputePipelines", &c.createPipeline},
		{"vkCreatePipelineCache", &c.createCache},
		{"vkCreateBuffer", &c.createBuffer},
		{"vkAllocateMemory", &c.allocateMemory},
		{"vkCreateDescriptorPool", &c.createDescriptorPool},
		{"vkAllocateDescriptorSets", &c.allocateSet},
		{"vkUpdateDescriptorSets", &c.writeSet},
		{"vkBeginCommandBuffer", &c.begin},
		{"vkCmdPipelineBarrier", &c.barrier},
		{"vkCmdCopyBuffer", &c.copy},
		{"vkQueueSubmit", &c.submit},
	} {
		name := C.CString(e.name)
		*e.to = C.strata_proc(loader.gipa, C.VkInstance(unsafe.Pointer(inst)), name)
		C.free(unsafe.Pointer(name))
		if *e.to == nil {
			return calls{}, fmt.Errorf("%w: the Vulkan loader has no %s", ErrUnavailable, e.name)
		}
	}
	return c, nil
}

func (c *calls) queueFamilyProperties(pd vk.PhysicalDevice) []C.VkQueueFamilyProperties {
	var n C.uint32_t
	C.strata_queue_families(c.queueFamilies, C.VkPhysicalDevice(unsafe.Pointer(pd)), &n, nil)
	if n == 0 {
		return nil
	}
	fams := make([]C.VkQueueFamilyProperties, n)
	C.strata_queue_families(c.queueFamilies, C.VkPhysicalDevice(unsafe.Pointer(pd)), &n, &fams[0])
	return fams[:n]
}

func (c *calls) newDevice(pd vk.PhysicalDevice, family uint32) (vk.Device, vk.Result) {
	var d C.VkDevice
	r := C.strata_create_device(c.createDevice, C.VkPhysicalDevice(unsafe.Pointer(pd)), C.uint32_t(family), &d)
	return vk.Device(unsafe.Pointer(d)), vk.Result(r)
}

func (c *calls) newShaderModule(dev vk.Device, code []uint32) (vk.ShaderModule, vk.Result) {
	if len(code) == 0 {
		return nil, vk.ErrorInitializationFailed
	}
	var m C.VkShaderModule
	r := C.strata_create_shader_module(c.createShaderModule, C.VkDevice(unsafe.Pointer(dev)),
		(*C.uint32_t)(unsafe.Pointer(&code[0])), C.size_t(4*len(code)), &m)
	return vk.ShaderModule(unsafe.Pointer(m)), vk.Result(r)
}

func (c *calls) newSetLayout(dev vk.Device, bindings int) (vk.DescriptorSetLayout, vk.Result) {
	var l C.VkDescriptorSetLayout
	r := C.strata_create_set_layout(c.createSetLayout, C.VkDevice(unsafe.Pointer(dev)), C.uint32_t(bindings), &l)
	return vk.DescriptorSetLayout(unsafe.Pointer(l)), vk.Result(r)
}

func (c *calls) newPipelineLayout(dev vk.Device, set vk.DescriptorSetLayout, push uint32) (vk.PipelineLayout, vk.Result) {
	var l C.VkPipelineLayout
	r := C.strata_create_pipeline_layout(c.createPipelineLayout, C.VkDevice(unsafe.Pointer(dev)),
		C.VkDescriptorSetLayout(unsafe.Pointer(set)), C.uint32_t(push), &l)
	return vk.PipelineLayout(unsafe.Pointer(l)), vk.Result(r)
}

// newPipeline compiles a compute pipeline; local, when not 0, is
// specialization constant 0.
func (c *calls) newPipeline(dev vk.Device, cache vk.PipelineCache, module vk.ShaderModule, layout vk.PipelineLayout,
	local uint32) (vk.Pipeline, vk.Result) {
	special := C.int(0)
	if local != 0 {
		special = 1
	}
	var p C.VkPipeline
	r := C.strata_create_pipeline(c.createPipeline, C.VkDevice(unsafe.Pointer(dev)),
		C.VkPipelineCache(unsafe.Pointer(cache)), C.VkShaderModule(unsafe.Pointer(module)),
		C.VkPipelineLayout(unsafe.Pointer(layout)), special, C.uint32_t(local), &p)
	return vk.Pipeline(unsafe.Pointer(p)), vk.Result(r)
}

// newPipelineCache makes a cache from data a driver wrote before (or none).
func (c *calls) newPipelineCache(dev vk.Device, data []byte) (vk.PipelineCache, vk.Result) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var cache C.VkPipelineCache
	r := C.strata_create_cache(c.createCache, C.VkDevice(unsafe.Pointer(dev)), p, C.size_t(len(data)), &cache)
	return vk.PipelineCache(unsafe.Pointer(cache)), vk.Result(r)
}

// newBuffer makes a storage buffer of size bytes that copies read and write.
func (c *calls) newBuffer(dev vk.Device, size uint64) (vk.Buffer, vk.Result) {
	var b C.VkBuffer
	r := C.strata_create_buffer(c.createBuffer, C.VkDevice(unsafe.Pointer(dev)), C.uint64_t(size), &b)
	return vk.Buffer(unsafe.Pointer(b)), vk.Result(r)
}

func (c *calls) allocate(dev vk.Device, size uint64, memoryType uint32) (vk.DeviceMemory, vk.Result) {
	var m C.VkDeviceMemory
	r := C.strata_allocate_memory(c.allocateMemory, C.VkDevice(unsafe.Pointer(dev)), C.uint64_t(size),
		C.uint32_t(memoryType), &m)
	return vk.DeviceMemory(unsafe.Pointer(m)), vk.Result(r)
}

func (c *calls) newDescriptorPool(dev vk.Device, sets, buffers uint32) (vk.DescriptorPool, vk.Result) {
	var p C.VkDescriptorPool
	r := C.strata_create_descriptor_pool(c.createDescriptorPool, C.VkDevice(unsafe.Pointer(dev)),
		C.uint32_t(sets), C.uint32_t(buffers), &p)
	return vk.DescriptorPool(unsafe.Pointer(p)), vk.Result(r)
}

func (c *calls) newSet(dev vk.Device, pool vk.DescriptorPool, layout vk.DescriptorSetLayout) (vk.DescriptorSet, vk.Result) {
	var s C.VkDescriptorSet
	r := C.strata_allocate_set(c.allocateSet, C.VkDevice(unsafe.Pointer(dev)), C.VkDescriptorPool(unsafe.Pointer(pool)),
		C.VkDescriptorSetLayout(unsafe.Pointer(layout)), &s)
	return vk.DescriptorSet(unsafe.Pointer(s)), vk.Result(r)
}

// writeSetBuffers points binding i of set at the whole of bufs[i]; there
// are at most maxBindings, which pipeline checks.
func (c *calls) writeSetBuffers(dev vk.Device, set vk.DescriptorSet, bufs []*buffer) {
	var handles [maxBindings]C.VkBuffer
	var sizes [maxBindings]C.uint64_t
	for i, b := range bufs {
		handles[i] = C.VkBuffer(unsafe.Pointer(b.buf))
		sizes[i] = C.uint64_t(b.size)
	}
	C.strata_write_set(c.writeSet, C.VkDevice(unsafe.Pointer(dev)), C.VkDescriptorSet(unsafe.Pointer(set)),
		C.uint32_t(len(bufs)), &handles[0], &sizes[0])
}

func (c *calls) beginCommands(cmd vk.CommandBuffer, flags vk.CommandBufferUsageFlagBits) vk.Result {
	return vk.Result(C.strata_begin(c.begin, C.VkCommandBuffer(unsafe.Pointer(cmd)), C.VkCommandBufferUsageFlags(flags)))
}

func (c *calls) memoryBarrier(cmd vk.CommandBuffer, src, dst vk.PipelineStageFlags, srcAccess, dstAccess vk.AccessFlags) {
	C.strata_barrier(c.barrier, C.VkCommandBuffer(unsafe.Pointer(cmd)), C.VkPipelineStageFlags(src),
		C.VkPipelineStageFlags(dst), C.VkAccessFlags(srcAccess), C.VkAccessFlags(dstAccess))
}

func (c *calls) copyBuffer(cmd vk.CommandBuffer, src, dst vk.Buffer, srcOff, dstOff, size uint64) {
	C.strata_copy(c.copy, C.VkCommandBuffer(unsafe.Pointer(cmd)), C.VkBuffer(unsafe.Pointer(src)),
		C.VkBuffer(unsafe.Pointer(dst)), C.uint64_t(srcOff), C.uint64_t(dstOff), C.uint64_t(size))
}

func (c *calls) submitCommands(queue vk.Queue, cmd vk.CommandBuffer, fence vk.Fence) vk.Result {
	return vk.Result(C.strata_submit(c.submit, C.VkQueue(unsafe.Pointer(queue)), C.VkCommandBuffer(unsafe.Pointer(cmd)),
		C.VkFence(unsafe.Pointer(fence))))
}

// queueFamily is what strata reads of a queue family.
type queueFamily struct {
	flags      vk.QueueFlags
	timestamps bool // timestampValidBits > 0
}

func (c *calls) queueFamilyList(pd vk.PhysicalDevice) []queueFamily {
	props := c.queueFamilyProperties(pd)
	fams := make([]queueFamily, len(props))
	for i, p := range props {
		fams[i] = queueFamily{vk.QueueFlags(p.queueFlags), p.timestampValidBits > 0}
	}
	return fams
}
