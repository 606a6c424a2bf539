//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"log/slog"

	vk "github.com/vulkan-go/vulkan"

	"strata/engine"
)

// Backend is the Vulkan implementation of engine.Backend.
type Backend struct {
	info     DeviceInfo
	inst     vk.Instance
	pd       vk.PhysicalDevice
	dev      vk.Device
	queue    vk.Queue
	memProps vk.PhysicalDeviceMemoryProperties
	maxRange uint64
	vkc      calls // the commands strata builds the structures of

	pipelines     map[pipelineKey]*pipeline
	pipelineCache vk.PipelineCache
	cachePath     string
	cacheLoaded   int

	descPools []vk.DescriptorPool
	descLeft  int
	sets      map[setKey]vk.DescriptorSet

	cmdPool vk.CommandPool
	cmd     vk.CommandBuffer
	oneCmd  vk.CommandBuffer
	fence   vk.Fence
	queries vk.QueryPool
	timed   bool // the next flush records timestamps around its work

	q         queueState
	buffers   []*buffer // every buffer, for Close
	allocated uint64
	err       error // the first error of queued work, reported by Read

	profile profile
	paths   // the code paths taken on the device
}

var _ engine.Backend = (*Backend)(nil)

// New opens a Vulkan device and returns a backend computing on it.
func New(o Options) (engine.Backend, error) {
	g, err := open(o)
	if err != nil {
		return nil, err
	}
	return g, nil
}

func open(o Options) (*Backend, error) {
	inst, err := newInstance()
	if err != nil {
		return nil, err
	}
	g := &Backend{inst: inst, pipelines: map[pipelineKey]*pipeline{}, sets: map[setKey]vk.DescriptorSet{}}
	if err := g.init(o); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Backend) init(o Options) error {
	pds, err := physicalDevices(g.inst)
	if err != nil {
		return err
	}
	infos := make([]DeviceInfo, len(pds))
	for i, pd := range pds {
		infos[i] = describe(g.inst, pd, i)
	}
	idx, err := choose(infos, o.Device)
	if err != nil {
		return err
	}
	g.info, g.pd = infos[idx], pds[idx]
	if g.vkc, err = loadCalls(g.inst); err != nil {
		return err
	}
	if o.GPUOnly && o.Device < 0 && g.info.Type == "cpu" {
		return fmt.Errorf("%w: the only Vulkan device is %s, a CPU implementation, slower than strata's CPU backend",
			ErrUnavailable, g.info.Name)
	}
	if err := g.plan(o.Profile); err != nil {
		return err
	}
	g.maxRange = min(g.info.MaxStorageBuffer, 1<<31)
	if o.MaxBuffer > 0 {
		g.maxRange = min(g.maxRange, max(o.MaxBuffer, 1<<16))
	}
	var mp vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(g.pd, &mp)
	mp.Deref()
	g.memProps = mp
	for i := range g.memProps.MemoryTypeCount {
		g.memProps.MemoryTypes[i].Deref()
	}
	family, timestamps, err := computeQueue(&g.vkc, g.pd)
	if err != nil {
		return err
	}
	dev, r := g.vkc.newDevice(g.pd, family)
	if err := vkErr("vkCreateDevice", r); err != nil {
		return err
	}
	g.dev = dev
	var queue vk.Queue
	vk.GetDeviceQueue(g.dev, family, 0, &queue)
	g.queue = queue
	var pool vk.CommandPool
	r = vk.CreateCommandPool(g.dev, &vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: family,
	}, nil, &pool)
	if err := vkErr("vkCreateCommandPool", r); err != nil {
		return err
	}
	g.cmdPool = pool
	cmds := make([]vk.CommandBuffer, 2)
	r = vk.AllocateCommandBuffers(g.dev, &vk.CommandBufferAllocateInfo{
		SType:              vk.StructureTypeCommandBufferAllocateInfo,
		CommandPool:        g.cmdPool,
		Level:              vk.CommandBufferLevelPrimary,
		CommandBufferCount: 2,
	}, cmds)
	if err := vkErr("vkAllocateCommandBuffers", r); err != nil {
		return err
	}
	g.cmd, g.oneCmd = cmds[0], cmds[1]
	var fence vk.Fence
	if err := vkErr("vkCreateFence", vk.CreateFence(g.dev, &vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}, nil, &fence)); err != nil {
		return err
	}
	g.fence = fence
	if timestamps {
		var qp vk.QueryPool
		r = vk.CreateQueryPool(g.dev, &vk.QueryPoolCreateInfo{
			SType: vk.StructureTypeQueryPoolCreateInfo, QueryType: vk.QueryTypeTimestamp, QueryCount: 2,
		}, nil, &qp)
		if err := vkErr("vkCreateQueryPool", r); err != nil {
			return err
		}
		g.queries = qp
	}
	var props vk.PhysicalDeviceProperties
	vk.GetPhysicalDeviceProperties(g.pd, &props)
	props.Deref()
	g.cachePath = cacheFile(o.PipelineCache, &g.info, props.PipelineCacheUUID)
	if err := g.openPipelineCache(); err != nil {
		return err
	}
	return g.q.init(g)
}

// Name is "vulkan".
func (g *Backend) Name() string { return "vulkan" }

// Device names the device and its driver.
func (g *Backend) Device() string {
	if g.info.Driver != "" {
		return fmt.Sprintf("%s (%s, %s)", g.info.Name, g.info.Type, g.info.Driver)
	}
	return fmt.Sprintf("%s (%s)", g.info.Name, g.info.Type)
}

// Stats counts the command buffers recorded and the submits made; a
// decode step that replays its recording adds a submit, not a recording.
func (g *Backend) Stats() (recordings, submits int) {
	return g.q.recordings, g.q.submits
}

// Info describes the device.
func (g *Backend) Info() DeviceInfo { return g.info }

// Close waits for the device, keeps the compiled pipelines for the next
// run and frees everything.
func (g *Backend) Close() error {
	if g.dev == nil {
		if g.inst != nil {
			vk.DestroyInstance(g.inst, nil)
			g.inst = nil
		}
		return nil
	}
	vk.DeviceWaitIdle(g.dev)
	err := g.savePipelineCache()
	if err != nil {
		slog.Debug("gpu: pipeline cache not saved", "err", err)
	}
	for _, b := range g.buffers {
		g.free(b)
	}
	for _, p := range g.pipelines {
		g.destroyPipeline(p)
	}
	for _, p := range g.descPools {
		vk.DestroyDescriptorPool(g.dev, p, nil)
	}
	if g.pipelineCache != nil {
		vk.DestroyPipelineCache(g.dev, g.pipelineCache, nil)
	}
	if g.queries != nil {
		vk.DestroyQueryPool(g.dev, g.queries, nil)
	}
	if g.fence != nil {
		vk.DestroyFence(g.dev, g.fence, nil)
	}
	if g.cmdPool != nil {
		vk.DestroyCommandPool(g.dev, g.cmdPool, nil)
	}
	vk.DestroyDevice(g.dev, nil)
	vk.DestroyInstance(g.inst, nil)
	g.dev, g.inst = nil, nil
	return nil
}

// track registers a buffer for Close.
func (g *Backend) track(b *buffer, err error) (*buffer, error) {
	if err == nil {
		g.buffers = append(g.buffers, b)
	}
	return b, err
}

// release frees a buffer before Close; recordings that used it are dropped.
func (g *Backend) release(b *buffer) {
	for k := range g.sets {
		for _, kb := range k.bufs {
			if kb == b {
				delete(g.sets, k) // the set's memory returns with its pool
			}
		}
	}
	g.q.invalidate()
	for i, x := range g.buffers {
		if x == b {
			g.buffers = append(g.buffers[:i], g.buffers[i+1:]...)
			break
		}
	}
	g.free(b)
}

// fail records the first error of queued work.
func (g *Backend) fail(err error) {
	if g.err == nil && err != nil {
		g.err = err
	}
}

var errClosed = errors.New("gpu: backend is closed")
