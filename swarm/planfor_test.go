package swarm

import (
	"bytes"
	"slices"
	"testing"
)

func TestPlanFor(t *testing.T) {
	const layer = 100 << 20
	model := Model{Layers: 8, LayerBytes: slices.Repeat([]int64{layer}, 8), EmbedBytes: 50 << 20, HeadBytes: 60 << 20,
		KVBytesPerLayer: 1 << 20, ActivationBytes: 8 << 20}
	peer := func(id, data, m string, seconds float64) Member {
		return Member{ID: id, Meta: Meta{Data: data, Model: m, MemoryBytes: 4 << 30, LayerSeconds: seconds}}
	}
	members := []Member{
		peer("a", "127.0.0.1:1", "m1", 0.001),
		peer("b", "127.0.0.1:2", "m1", 0.003),
		peer("c", "", "m1", 0.001),            // a client
		peer("d", "127.0.0.1:4", "m2", 0.001), // another model
	}
	plan := PlanFor(model, "m1", Options{})
	body, err := plan(members)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodePlan(Assignment{Version: 1, Plan: body})
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, s := range p.Stages {
		named = append(named, s.Peers...)
	}
	slices.Sort(named)
	if !slices.Equal(named, []string{"a", "b"}) {
		t.Fatalf("the plan names %v, want a and b alone (c is a client, d holds another model)", named)
	}
	if s, ok := p.StageOf("a"); !ok || s.End-s.Start <= 4 {
		t.Errorf("a, three times as fast as b, serves %v (found %v): want more than half the layers", s, ok)
	}
	if _, ok := p.StageOf("c"); ok {
		t.Error("the client has a stage")
	}
	if got := p.Addresses(members); len(got) != 2 || got[0] != "127.0.0.1:1" && got[0] != "127.0.0.1:2" {
		t.Errorf("addresses %v", got)
	}
	if want := "127.0.0.1:1"; p.Stages[0].Peers[0] == "a" && p.Addresses(members)[0] != want {
		t.Errorf("first address %s, want the first stage's primary %s", p.Addresses(members)[0], want)
	}
	// What members serve now does not change the plan.
	members[0].Meta.Start, members[0].Meta.End, members[0].Meta.PlanVersion = 0, 3, 7
	again, err := plan(members)
	if err != nil || !bytes.Equal(again, body) {
		t.Errorf("the plan changed with what a member serves: %s, then %s (%v)", body, again, err)
	}
	// Too little memory: refused with the numbers.
	members[0].Meta.MemoryBytes, members[1].Meta.MemoryBytes = 1<<20, 1<<20
	if _, err := plan(members); err == nil {
		t.Error("two peers of 1 MiB were given a model of 900 MiB")
	}
}

func TestDecodePlanRefuses(t *testing.T) {
	for _, body := range []string{
		`not json`,
		`{"Stages":[{"Start":0,"End":2,"Peers":["a"]},{"Start":3,"End":4,"Peers":["b"]}]}`, // a gap
		`{"Stages":[{"Start":0,"End":2,"Peers":[]}]}`,                                      // nobody
		`{"Stages":[{"Start":2,"End":2,"Peers":["a"]}]}`,                                   // empty
	} {
		if _, err := DecodePlan(Assignment{Version: 3, Coordinator: "c0ffee", Plan: []byte(body)}); err == nil {
			t.Errorf("%s: decoded", body)
		}
	}
}

// TestPromote: a replica that serves its stage faster than the stage's
// primary becomes the primary, and the stage's time is its.
func TestPromote(t *testing.T) {
	m := Model{Layers: 2, LayerBytes: []int64{1 << 20, 1 << 20}, EmbedBytes: 1 << 20, HeadBytes: 1 << 20}
	peers := []Peer{{ID: "slow", MemoryBytes: 1 << 30, LayerSeconds: 0.004}, {ID: "fast", MemoryBytes: 1 << 30, LayerSeconds: 0.001}}
	pl, err := newPlanner(m, peers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stages := []Stage{pl.stage(pl.index["slow"], 0, 2)}
	stages[0].Peers = append(stages[0].Peers, "fast")
	pl.promote(stages)
	if got := stages[0].Peers; got[0] != "fast" || got[1] != "slow" {
		t.Fatalf("peers %v, want fast first", got)
	}
	if want := pl.seconds(pl.index["fast"], 0, 2); stages[0].Seconds != want {
		t.Fatalf("stage seconds %v, want the fast peer's %v", stages[0].Seconds, want)
	}
}
