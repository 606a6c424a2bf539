//go:build cgo

package gpu

import (
	"math"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

const maxBindings = 5

// An op is one queued command: a dispatch, or a buffer copy when pipe is
// nil. Ops are plain comparable values: two queues of equal ops record
// the same command buffer.
type op struct {
	pipe    *pipeline
	bufs    [maxBindings]*buffer
	writes  uint8 // bit i: the op writes bufs[i]
	push    [pushBytes / 4]uint32
	groups  [3]uint32
	barrier bool // a barrier goes before this op
	// copies
	src, dst       *buffer
	srcOff, dstOff uint64
	size           uint64
}

// queueState is the work queued since the last submit and the command
// buffer last recorded.
type queueState struct {
	ops       []op
	recorded  []op
	recordedT bool // the recording has timestamps
	valid     bool // the command buffer holds recorded
	epoch     int

	dyn     *buffer // host-visible: values that change between submits
	dynUsed uint64
	memo    map[memoKey]uint64 // dynamic data shared by ops of one submit

	readback *buffer

	addable *op // the matrix product last queued, while an Add may fuse into it

	recordings, submits int // counters, for tests and -verbose
}

// memoKey names dynamic data that several ops of a submit share: a
// position, or the rotary table of a position range.
type memoKey struct {
	kind  int
	pos   int
	n     int
	freqs *float64
}

const (
	dynSize      = 16 << 20
	readbackSize = 64 << 20
)

func (q *queueState) init(g *Backend) error {
	var err error
	if q.dyn, err = g.track(g.newBuffer(min(dynSize, g.maxRange), true)); err != nil {
		return err
	}
	if q.readback, err = g.track(g.newBuffer(min(readbackSize, g.maxRange), true)); err != nil {
		return err
	}
	q.memo = map[memoKey]uint64{}
	q.epoch = 1
	return nil
}

func (q *queueState) invalidate() { q.valid = false }

// enqueue adds an op, deciding whether it needs a barrier: when it reads
// or writes a buffer written since the last barrier, or writes one read
// since then.
func (g *Backend) enqueue(o op) {
	q := &g.q
	touch := func(b *buffer, write bool) bool {
		return b != nil && (b.written == q.epoch || write && b.read == q.epoch)
	}
	need := touch(o.src, false) || touch(o.dst, true)
	for i, b := range o.bufs {
		need = need || touch(b, o.writes&(1<<i) != 0)
	}
	if need {
		o.barrier = true
		q.epoch++
	}
	q.addable = nil
	mark := func(b *buffer, write bool) {
		if b == nil {
			return
		}
		if write {
			b.written = q.epoch
		} else {
			b.read = q.epoch
		}
	}
	mark(o.src, false)
	mark(o.dst, true)
	for i, b := range o.bufs {
		mark(b, o.writes&(1<<i) != 0)
	}
	q.ops = append(q.ops, o)
}

// dispatch queues a compute dispatch. bufs are the shader's bindings in
// order; writes marks those it writes.
func (g *Backend) dispatch(name string, groups [3]uint32, push []uint32, writes uint8, bufs ...*buffer) {
	g.dispatchLocal(name, 0, groups, push, writes, bufs...)
}

// dispatchLocal queues a dispatch of a shader whose workgroup size is
// specialization constant 0, set to local.
func (g *Backend) dispatchLocal(name string, local uint32, groups [3]uint32, push []uint32, writes uint8, bufs ...*buffer) {
	p, err := g.pipeline(name, len(bufs), local)
	if err != nil {
		g.fail(err)
		return
	}
	o := op{pipe: p, writes: writes, groups: groups}
	copy(o.bufs[:], bufs)
	copy(o.push[:], push)
	g.enqueue(o)
}

// copyBuffer queues a copy of size bytes.
func (g *Backend) copyBuffer(dst *buffer, dstOff uint64, src *buffer, srcOff, size uint64) {
	if size == 0 {
		return
	}
	g.enqueue(op{src: src, dst: dst, srcOff: srcOff, dstOff: dstOff, size: size})
}

// groups1D spreads count invocations of a workgroup of size local over
// a grid that respects the 65535 limit of each dimension.
func groups1D(count, local uint32) [3]uint32 {
	n := (count + local - 1) / local
	if n <= 65535 {
		return [3]uint32{max(n, 1), 1, 1}
	}
	return [3]uint32{65535, (n + 65534) / 65535, 1}
}

// dynamic reserves size bytes of the dynamic buffer, 16-byte aligned,
// and returns their offset and memory. When the buffer is full the queue
// is submitted first.
func (g *Backend) dynamic(size uint64) (uint64, []byte) {
	q := &g.q
	size = (size + 15) &^ 15
	if q.dynUsed+size > q.dyn.size {
		if err := g.flush(); err != nil {
			g.fail(err)
		}
		if size > q.dyn.size {
			g.free(q.dyn)
			var err error
			if q.dyn, err = g.track(g.newBuffer(size, true)); err != nil {
				g.fail(err)
				q.dyn, _ = g.track(g.newBuffer(dynSize, true))
				return 0, make([]byte, size)
			}
			q.invalidate()
		}
	}
	off := q.dynUsed
	q.dynUsed += size
	return off, q.dyn.bytes()[off : off+size]
}

// dynPos returns the word offset in the dynamic buffer of a position.
func (g *Backend) dynPos(pos int) uint32 {
	q := &g.q
	k := memoKey{kind: 1, pos: pos}
	if off, ok := q.memo[k]; ok {
		return uint32(off / 4)
	}
	off, b := g.dynamic(4)
	*(*uint32)(unsafe.Pointer(&b[0])) = uint32(pos)
	q.memo[k] = off
	return uint32(off / 4)
}

// dynRope returns the float offset of the cosines and sines of rows
// [pos, pos+n), computed in float64 like the CPU backend.
func (g *Backend) dynRope(pos, n int, freqs []float64) uint32 {
	q := &g.q
	k := memoKey{kind: 2, pos: pos, n: n, freqs: &freqs[0]}
	if off, ok := q.memo[k]; ok {
		return uint32(off / 4)
	}
	off, b := g.dynamic(uint64(n * len(freqs) * 8))
	t := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n*len(freqs)*2)
	for j := range n {
		for i, f := range freqs {
			s, c := math.Sincos(float64(pos+j) * f)
			t[2*(j*len(freqs)+i)] = float32(c)
			t[2*(j*len(freqs)+i)+1] = float32(s)
		}
	}
	q.memo[k] = off
	return uint32(off / 4)
}

// flush submits the queued work and waits for it. A queue equal to the
// last one submits the command buffer already recorded.
func (g *Backend) flush() error {
	q := &g.q
	if len(q.ops) == 0 {
		return g.err
	}
	same := q.valid && q.recordedT == g.timed && len(q.ops) == len(q.recorded)
	for i := 0; same && i < len(q.ops); i++ {
		same = q.ops[i] == q.recorded[i]
	}
	if !same {
		if err := g.record(); err != nil {
			g.fail(err)
		}
		q.recordings++
	}
	q.submits++
	err := g.submit(g.cmd)
	g.fail(err)
	q.ops = q.ops[:0]
	q.addable = nil
	q.dynUsed = 0
	clear(q.memo)
	q.epoch++
	return g.err
}

// Counts are the dispatches and barriers between them of the command
// buffer last submitted (a replayed one included).
func (g *Backend) Counts() (dispatches, barriers int) {
	for _, o := range g.q.recorded {
		if o.pipe != nil {
			dispatches++
		}
		if o.barrier {
			barriers++
		}
	}
	return dispatches, barriers
}

// record records the queued ops into the command buffer.
func (g *Backend) record() error {
	q := &g.q
	q.valid = false
	cmd := g.cmd
	if err := vkErr("vkResetCommandBuffer", vk.ResetCommandBuffer(cmd, 0)); err != nil {
		return err
	}
	if err := vkErr("vkBeginCommandBuffer", g.vkc.beginCommands(cmd, 0)); err != nil {
		return err
	}
	if g.timed && g.queries != nil {
		vk.CmdResetQueryPool(cmd, g.queries, 0, 2)
		vk.CmdWriteTimestamp(cmd, vk.PipelineStageTopOfPipeBit, g.queries, 0)
	}
	all := vk.PipelineStageFlags(vk.PipelineStageComputeShaderBit | vk.PipelineStageTransferBit)
	access := vk.AccessFlags(vk.AccessShaderReadBit | vk.AccessShaderWriteBit | vk.AccessTransferReadBit | vk.AccessTransferWriteBit)
	var bound *pipeline
	for i := range q.ops {
		o := &q.ops[i]
		if o.barrier {
			g.vkc.memoryBarrier(cmd, all, all, access, access)
		}
		if o.pipe == nil {
			g.vkc.copyBuffer(cmd, o.src.buf, o.dst.buf, uint64(o.srcOff), uint64(o.dstOff), uint64(o.size))
			continue
		}
		if bound != o.pipe {
			vk.CmdBindPipeline(cmd, vk.PipelineBindPointCompute, o.pipe.pipe)
			bound = o.pipe
		}
		set, err := g.descriptorSet(o.pipe, o.bufs)
		if err != nil {
			return err
		}
		vk.CmdBindDescriptorSets(cmd, vk.PipelineBindPointCompute, o.pipe.layout, 0, 1, []vk.DescriptorSet{set}, 0, nil)
		push := new([pushBytes / 4]uint32) // cgo may not see Go pointers beside it
		*push = o.push
		vk.CmdPushConstants(cmd, o.pipe.layout, vk.ShaderStageFlags(vk.ShaderStageComputeBit), 0, pushBytes, unsafe.Pointer(&push[0]))
		vk.CmdDispatch(cmd, o.groups[0], o.groups[1], o.groups[2])
	}
	// Make the results visible to the host, which reads them after the fence.
	g.vkc.memoryBarrier(cmd, all, vk.PipelineStageFlags(vk.PipelineStageHostBit), access, vk.AccessFlags(vk.AccessHostReadBit))
	if g.timed && g.queries != nil {
		vk.CmdWriteTimestamp(cmd, vk.PipelineStageBottomOfPipeBit, g.queries, 1)
	}
	if err := vkErr("vkEndCommandBuffer", vk.EndCommandBuffer(cmd)); err != nil {
		return err
	}
	q.recorded = append(q.recorded[:0], q.ops...)
	q.recordedT = g.timed
	q.valid = true
	return nil
}

// submit runs a command buffer and waits for it.
func (g *Backend) submit(cmd vk.CommandBuffer) error {
	if err := vkErr("vkQueueSubmit", g.vkc.submitCommands(g.queue, cmd, g.fence)); err != nil {
		return err
	}
	fences := []vk.Fence{g.fence}
	if err := vkErr("vkWaitForFences", vk.WaitForFences(g.dev, 1, fences, vk.True, math.MaxUint64)); err != nil {
		return err
	}
	return vkErr("vkResetFences", vk.ResetFences(g.dev, 1, fences))
}

// oneOff records and runs a command buffer outside the queue (uploads).
func (g *Backend) oneOff(rec func(vk.CommandBuffer)) error {
	cmd := g.oneCmd
	if err := vkErr("vkBeginCommandBuffer", g.vkc.beginCommands(cmd, vk.CommandBufferUsageOneTimeSubmitBit)); err != nil {
		return err
	}
	rec(cmd)
	if err := vkErr("vkEndCommandBuffer", vk.EndCommandBuffer(cmd)); err != nil {
		return err
	}
	return g.submit(cmd)
}

// setKey identifies a descriptor set: a pipeline's layout and buffers.
type setKey struct {
	pipe *pipeline
	bufs [maxBindings]*buffer
}

// descriptorSet returns the set binding bufs for p, made once and kept.
func (g *Backend) descriptorSet(p *pipeline, bufs [maxBindings]*buffer) (vk.DescriptorSet, error) {
	k := setKey{p, bufs}
	if s, ok := g.sets[k]; ok {
		return s, nil
	}
	if g.descLeft == 0 {
		const sets = 1024
		pool, r := g.vkc.newDescriptorPool(g.dev, sets, sets*maxBindings)
		if err := vkErr("vkCreateDescriptorPool", r); err != nil {
			return nil, err
		}
		g.descPools = append(g.descPools, pool)
		g.descLeft = sets
	}
	set, r := g.vkc.newSet(g.dev, g.descPools[len(g.descPools)-1], p.setLayout)
	if err := vkErr("vkAllocateDescriptorSets", r); err != nil {
		return nil, err
	}
	g.descLeft--
	g.vkc.writeSetBuffers(g.dev, set, bufs[:p.bindings])
	g.sets[k] = set
	return set, nil
}
