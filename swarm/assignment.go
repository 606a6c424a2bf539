package swarm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"strata/transport"
)

// A PlanFunc computes the swarm's plan from its live members (sorted by
// ID, the coordinator among them). What it returns is distributed as it
// is, in an Assignment: the planner's Plan in JSON, once wired.
type PlanFunc func(members []Member) ([]byte, error)

// An Assignment is a plan as a coordinator distributed it. A newer one
// replaces an older: a higher Version wins, and of two with one version
// (two coordinators, briefly, while the swarm's view of itself settles)
// the one from the lower coordinator ID. A coordinator that hears of a
// plan that beats its own publishes its plan again with a higher version,
// so members converge on the coordinator's plan.
type Assignment struct {
	Version     uint64
	Coordinator string // the ID of the member that planned it
	Plan        []byte // what the coordinator's PlanFunc returned
}

// newer reports whether a replaces b.
func (a Assignment) newer(b Assignment) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return a.Coordinator != b.Coordinator && (b.Coordinator == "" || a.Coordinator < b.Coordinator)
}

// maxPlanSize bounds a plan's encoding: a plan for thousands of peers
// fits, and no member holds more than this of what another sent.
const maxPlanSize = 4 << 20

// ErrPlanTooLarge reports a plan past maxPlanSize.
var ErrPlanTooLarge = fmt.Errorf("swarm: plan larger than %d bytes", maxPlanSize)

// planLabel begins what a coordinator signs of a plan.
const planLabel = "strata swarm plan v1\x00"

// msgPlan is the first byte of a plan in memberlist's user messages and
// push/pull state.
const msgPlan byte = 'P'

// assignmentWire is an Assignment in JSON, signed by its coordinator.
type assignmentWire struct {
	Version     uint64 `json:"v"`
	Coordinator string `json:"c"`
	Plan        []byte `json:"p"`
	Signature   []byte `json:"s"`
}

func planMessage(a Assignment) []byte {
	b := make([]byte, 0, len(planLabel)+8+len(a.Coordinator)+1+len(a.Plan))
	b = append(b, planLabel...)
	b = binary.BigEndian.AppendUint64(b, a.Version)
	b = append(b, a.Coordinator...)
	b = append(b, 0)
	return append(b, a.Plan...)
}

// encodeAssignment signs a as id, which must be its coordinator.
func encodeAssignment(id *transport.Identity, a Assignment) ([]byte, error) {
	if len(a.Plan) > maxPlanSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrPlanTooLarge, len(a.Plan))
	}
	b, err := json.Marshal(assignmentWire{a.Version, a.Coordinator, a.Plan, id.Sign(planMessage(a))})
	if err != nil {
		return nil, fmt.Errorf("swarm: plan: %w", err)
	}
	return append([]byte{msgPlan}, b...), nil
}

// errNotPlan reports a message that is not a plan at all.
var errNotPlan = errors.New("swarm: not a plan message")

// decodeAssignment checks that b is a plan signed by the coordinator it
// names, and decodes it.
func decodeAssignment(b []byte) (Assignment, error) {
	if len(b) == 0 || b[0] != msgPlan {
		return Assignment{}, errNotPlan
	}
	if len(b) > 2*maxPlanSize {
		return Assignment{}, fmt.Errorf("%w: %d bytes encoded", ErrPlanTooLarge, len(b))
	}
	var w assignmentWire
	if err := json.Unmarshal(b[1:], &w); err != nil {
		return Assignment{}, fmt.Errorf("swarm: plan: %w", err)
	}
	a := Assignment{Version: w.Version, Coordinator: w.Coordinator, Plan: w.Plan}
	if len(a.Plan) > maxPlanSize {
		return Assignment{}, fmt.Errorf("%w: %d bytes", ErrPlanTooLarge, len(a.Plan))
	}
	if !transport.VerifyID(a.Coordinator, planMessage(a), w.Signature) {
		return Assignment{}, fmt.Errorf("swarm: plan %d from %s: %w", a.Version, a.Coordinator, ErrForged)
	}
	return a, nil
}
