package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"strata/engine"
	"strata/transport"
)

// routeStack is a fakeStack reached through peers: it reports hops as a
// transport.Route does, and each decode step waits for gate.
type routeStack struct {
	*fakeStack
	hops []transport.HopStats
	gate chan struct{}
}

func (r *routeStack) Stats() []transport.HopStats { return r.hops }

func (r *routeStack) Eval(logits []float32, tokens []int32) error {
	if len(tokens) == 1 {
		<-r.gate
	}
	return r.fakeStack.Eval(logits, tokens)
}

// TestSwarmRequests: /api/swarm, which the swarm page reads, names each
// request a slot is computing by the id its client got (chatcmpl-…),
// with the slot and the route its tokens take (each hop's address,
// identity and layers), and none once they are done.
func TestSwarmRequests(t *testing.T) {
	v := tinyVocab(t)
	tmpl, _ := engine.ChatTemplateByName("chatml")
	gate := make(chan struct{})
	hop := func(addr, id string, start, end int) transport.HopStats {
		return transport.HopStats{Addr: addr, ID: id, Start: start, End: end}
	}
	routes := [][]transport.HopStats{
		{hop("10.0.0.1:7000", "aaaa1111", 0, 2), hop("10.0.0.2:7000", "bbbb2222", 2, 4)},
		{hop("10.0.0.3:7000", "cccc3333", 0, 2), hop("10.0.0.4:7000", "dddd4444", 2, 4)},
	}
	var stacks []Stack
	for _, r := range routes {
		stacks = append(stacks, &routeStack{fakeStack: &fakeStack{vocab: v.Len(), failAt: -1}, hops: r, gate: gate})
	}
	s, err := New(Options{Model: &Model{ID: "fake", Vocab: v, Template: tmpl, Stacks: stacks}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// Two streams, each queued before the scheduler runs, so that both
	// take a slot at its first step.
	ids := make(chan string, 2)
	done := make(chan error, 2)
	for _, text := range []string{"first", "second"} {
		go func() {
			body := `{"messages":[{"role":"user","content":"` + text + `"}],"max_tokens":2,"temperature":0,"ignore_eos":true,"stream":true}`
			res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				ids <- ""
				done <- err
				return
			}
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			sent := false
			for sc.Scan() {
				var chunk struct{ ID string }
				if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok && !sent && json.Unmarshal([]byte(line), &chunk) == nil {
					ids <- chunk.ID
					sent = true
				}
			}
			done <- sc.Err()
		}()
	}
	want := []string{<-ids, <-ids}
	for range 200 {
		if _, queued := s.fixed.sched.busy(); queued == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)

	type swarmJSON struct {
		Requests []swarmRequest `json:"requests"`
		Slots    []swarmSlot    `json:"slots"`
	}
	poll := func() swarmJSON {
		res, err := http.Get(srv.URL + "/api/swarm")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sw swarmJSON
		if err := json.NewDecoder(res.Body).Decode(&sw); err != nil {
			t.Fatal(err)
		}
		return sw
	}
	var sw swarmJSON
	for range 200 {
		if sw = poll(); len(sw.Requests) == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(sw.Requests) != 2 {
		t.Fatalf("/api/swarm shows %d requests, want the 2 running: %+v", len(sw.Requests), sw)
	}
	var seen []string
	for _, q := range sw.Requests {
		seen = append(seen, q.ID)
		if q.Slot < 0 || q.Slot >= len(routes) || q.Model != "fake" {
			t.Fatalf("request %s in slot %d of %q", q.ID, q.Slot, q.Model)
		}
		var wantRoute []routeHop
		for _, h := range routes[q.Slot] {
			wantRoute = append(wantRoute, routeHop{Addr: h.Addr, ID: h.ID, Layers: layerRange(h.Start, h.End)})
		}
		if !slices.Equal(q.Route, wantRoute) {
			t.Errorf("request %s in slot %d takes %+v, want %+v", q.ID, q.Slot, q.Route, wantRoute)
		}
		if sl := sw.Slots[q.Slot]; sl.Request != q.ID || !sl.Busy {
			t.Errorf("slot %d runs %q (busy %v), and the requests say %s", q.Slot, sl.Request, sl.Busy, q.ID)
		}
	}
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) || !strings.HasPrefix(want[0], "chatcmpl-") {
		t.Errorf("/api/swarm shows requests %v; the clients got %v", seen, want)
	}
	if sw.Requests[0].Slot == sw.Requests[1].Slot {
		t.Errorf("both requests in slot %d", sw.Requests[0].Slot)
	}
	if got := []string{sw.Requests[0].Route[0].Layers, sw.Requests[0].Route[1].Layers}; !slices.Equal(got, []string{"0-1", "2-3"}) {
		t.Errorf("layers %v, want inclusive ranges 0-1 and 2-3", got)
	}
	close(gate)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		if sw = poll(); len(sw.Requests) == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(sw.Requests) != 0 {
		t.Errorf("once done, /api/swarm still shows %+v", sw.Requests)
	}
}
