// Package api serves a model over HTTP in OpenAI's shapes
// (/v1/chat/completions, /v1/completions, /v1/models), with /health,
// Prometheus /metrics, a swarm status endpoint and an embedded web chat.
//
// Requests become jobs. A scheduler owns the model's slots (each a
// sequence with its own KV cache: an engine.Session, or a
// transport.Route through peers) and a bounded queue. It runs one loop:
// admit queued jobs into free slots (the slot whose cached tokens share
// the longest prefix with the prompt, truncated to that prefix), build
// one step of every active job (a chunk of its prompt, or its last
// token), run the step, then sample each job's next token.
//
// The step is the seam for continuous batching: Stepper.Step receives
// every active sequence's input at once and writes each one's logits.
// For a local model (every slot a Session of one Fragment), batchStepper
// runs them through the model as one batch (engine.Fragment.ForwardMany),
// so that the weights are read once for all of them; through peers,
// when the slots are the routes of one transport.Group, groupStepper
// sends them to each hop as one multi-session request, which the peer
// runs as one batch (transport.Group.EvalMany); other stacks step one
// after another on their own routes (serialStepper). Nothing else
// in the scheduler changes: sampling, stop strings, cancellation and the
// prefix cache stay per sequence, and each sequence's tokens stay those
// of a solo run.
//
// A server serves one Model, or the models of a Library (strata server
// --models-dir): each loaded model is an instance with its own slots and
// scheduler, which a pool loads when a request names it and unloads,
// least recently used first among those no request holds, when the
// models' memory (Entry.Memory) would pass the budget.
package api
