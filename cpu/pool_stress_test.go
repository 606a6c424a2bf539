package cpu

import (
	"testing"
	"time"
)

type sleepTask struct{ d time.Duration }

func (s *sleepTask) Do(_, lo, hi int) {
	if s.d > 0 {
		time.Sleep(s.d)
	}
}

// TestPoolIdle runs tasks with pauses longer than the workers' spin
// between them, so that every wake-up path is taken.
func TestPoolIdle(t *testing.T) {
	for _, workers := range []int{2, 3, 5} {
		p := NewPool(workers)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 300 {
				c := &countTask{hits: make([]int32, 40)}
				p.Run(c, 40, 1)
				for j, h := range c.hits {
					if h != 1 {
						t.Errorf("run %d index %d done %d times", i, j, h)
					}
				}
				if i%3 == 0 {
					time.Sleep(time.Duration(i%7) * 30 * time.Microsecond)
				}
				if i%5 == 0 {
					p.Run(&sleepTask{d: 100 * time.Microsecond}, 8, 1)
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("workers %d: a Run never returned", workers)
		}
		p.Close()
	}
}
