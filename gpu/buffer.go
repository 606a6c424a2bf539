//go:build cgo

package gpu

import (
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// A buffer is a Vulkan buffer with its own memory. Host-visible buffers
// stay mapped. written and read are the epochs (see Backend.epoch) in
// which a queued operation last wrote or read it.
type buffer struct {
	buf     vk.Buffer
	mem     vk.DeviceMemory
	size    uint64
	mapped  unsafe.Pointer
	written int
	read    int
}

// bytes returns the mapped memory of a host-visible buffer.
func (b *buffer) bytes() []byte { return unsafe.Slice((*byte)(b.mapped), b.size) }

// memoryType returns a memory type allowed by bits with all of want, or -1.
func (g *Backend) memoryType(bits uint32, want vk.MemoryPropertyFlagBits) int {
	for i := range g.memProps.MemoryTypeCount {
		t := g.memProps.MemoryTypes[i]
		if bits&(1<<i) != 0 && t.PropertyFlags&vk.MemoryPropertyFlags(want) == vk.MemoryPropertyFlags(want) {
			return int(i)
		}
	}
	return -1
}

// newBuffer allocates a storage buffer of size bytes: device-local, or
// host-visible and mapped when host is set. Device-local memory that the
// host can see (integrated GPUs, CPU devices) is mapped too.
func (g *Backend) newBuffer(size uint64, host bool) (*buffer, error) {
	// Shaders read 32-bit words: round up so that a tensor's last bytes
	// lie in a whole word of the buffer.
	size = max((size+15)&^15, 16)
	if size > g.maxRange {
		return nil, fmt.Errorf("gpu: a buffer of %d MiB exceeds the device's storage buffer range of %d MiB",
			size>>20, g.maxRange>>20)
	}
	b := &buffer{size: size}
	vb, r := g.vkc.newBuffer(g.dev, size)
	if err := vkErr("vkCreateBuffer", r); err != nil {
		return nil, err
	}
	b.buf = vb
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(g.dev, b.buf, &req)
	req.Deref()
	var typ int
	if host {
		typ = g.memoryType(req.MemoryTypeBits, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit|vk.MemoryPropertyHostCachedBit)
		if typ < 0 {
			typ = g.memoryType(req.MemoryTypeBits, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit)
		}
	} else {
		typ = g.memoryType(req.MemoryTypeBits, vk.MemoryPropertyDeviceLocalBit)
		if typ < 0 {
			typ = g.memoryType(req.MemoryTypeBits, 0)
		}
	}
	if typ < 0 {
		vk.DestroyBuffer(g.dev, b.buf, nil)
		return nil, fmt.Errorf("gpu: no memory type for a buffer (host visible: %v)", host)
	}
	mem, r := g.vkc.allocate(g.dev, uint64(req.Size), uint32(typ))
	if err := vkErr(fmt.Sprintf("vkAllocateMemory of %d MiB", size>>20), r); err != nil {
		vk.DestroyBuffer(g.dev, b.buf, nil)
		return nil, err
	}
	b.mem = mem
	if err := vkErr("vkBindBufferMemory", vk.BindBufferMemory(g.dev, b.buf, b.mem, 0)); err != nil {
		g.free(b)
		return nil, err
	}
	flags := g.memProps.MemoryTypes[typ].PropertyFlags
	if flags&vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit) ==
		vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit) {
		var p unsafe.Pointer
		if err := vkErr("vkMapMemory", vk.MapMemory(g.dev, b.mem, 0, vk.DeviceSize(size), 0, &p)); err != nil {
			g.free(b)
			return nil, err
		}
		b.mapped = p
	}
	g.allocated += size
	return b, nil
}

func (g *Backend) free(b *buffer) {
	if b == nil || b.buf == nil {
		return
	}
	if b.mapped != nil {
		vk.UnmapMemory(g.dev, b.mem)
	}
	vk.DestroyBuffer(g.dev, b.buf, nil)
	vk.FreeMemory(g.dev, b.mem, nil)
	g.allocated -= b.size
	b.buf, b.mem, b.mapped = nil, nil, nil
}

// upload copies data into b at offset: directly when b is mapped, else
// through a staging buffer and a one-off copy.
func (g *Backend) upload(b *buffer, offset uint64, data []byte) error {
	if b.mapped != nil {
		copy(b.bytes()[offset:], data)
		return nil
	}
	const step = 32 << 20
	staging, err := g.newBuffer(min(uint64(len(data)), step), true)
	if err != nil {
		return err
	}
	defer g.free(staging)
	for done := 0; done < len(data); done += step {
		part := data[done:min(done+step, len(data))]
		copy(staging.bytes(), part)
		if err := g.oneOff(func(cmd vk.CommandBuffer) {
			g.vkc.copyBuffer(cmd, staging.buf, b.buf, 0, offset+uint64(done), uint64(len(part)))
		}); err != nil {
			return err
		}
	}
	return nil
}
