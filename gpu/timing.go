//go:build cgo

package gpu

import (
	"errors"
	"time"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Time runs the work fn queues, timed on the device with timestamp
// queries around it, and returns the device time. Work queued before is
// submitted first, untimed.
func (g *Backend) Time(fn func()) (time.Duration, error) {
	if err := g.flush(); err != nil {
		return 0, err
	}
	if g.queries == nil {
		return 0, errors.New("gpu: the device's compute queue has no timestamps")
	}
	g.timed = true
	defer func() { g.timed = false }()
	fn()
	if err := g.flush(); err != nil {
		return 0, err
	}
	ts := new([2]uint64)
	r := vk.GetQueryPoolResults(g.dev, g.queries, 0, 2, 16, unsafe.Pointer(&ts[0]), 8,
		vk.QueryResultFlags(vk.QueryResult64Bit|vk.QueryResultWaitBit))
	if err := vkErr("vkGetQueryPoolResults", r); err != nil {
		return 0, err
	}
	return time.Duration(float64(ts[1]-ts[0]) * float64(g.info.TimestampPeriod)), nil
}

// CopyBandwidth measures the device's memory bandwidth by copying a
// buffer of size bytes to another: bytes read plus bytes written per
// second, the best of a few runs.
func (g *Backend) CopyBandwidth(size uint64) (float64, error) {
	size = min(size, g.maxRange)
	a, err := g.newBuffer(size, false)
	if err != nil {
		return 0, err
	}
	defer g.free(a)
	b, err := g.newBuffer(size, false)
	if err != nil {
		return 0, err
	}
	defer g.free(b)
	best := time.Duration(1 << 62)
	for range 5 {
		d, err := g.Time(func() { g.copyBuffer(b, 0, a, 0, size) })
		if err != nil {
			return 0, err
		}
		best = min(best, d)
	}
	g.q.invalidate() // the recording used buffers that are gone
	return 2 * float64(size) / best.Seconds(), nil
}
