package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check, layer by layer, that this device, driver or swarm computes what exact arithmetic computes",
		ArgsUsage: "MODEL | MANIFEST",
		Description: "Runs a prompt through the chosen path (the CPU, a Vulkan device, or the peers serving a\n" +
			"split) and through a float64 pass on the CPU that reads the weights as it goes, and prints\n" +
			"the NMSE of every layer's hidden state after attention and after the feed-forward block,\n" +
			"then of the logits, and one verdict: within the bar (NMSE <= 1e-9), or the first layer\n" +
			"and stage that leave it. Through peers, each hop's output is checked and a hop that\n" +
			"fails is named. With --weights it checks every tensor's values and, for a manifest,\n" +
			"every fragment's tensors against the hashes the manifest holds. It exits 1 on a failure.",
		OnUsageError: usageError,
		Flags: append(append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Value: "The capital of France is Paris, and the capital of Italy is", Usage: "the `TEXT` to run"},
			&cli.IntFlag{Name: "top-k", Value: 10, Usage: "compare the logits' top `K`"},
			&cli.StringFlag{Name: "dump", Usage: "write every layer's hidden states (and the exact pass's) as float32 files into `DIR`"},
			&cli.BoolFlag{Name: "weights", Usage: "check the tensors instead: NaN or infinite values and scales, and the manifest's hashes"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
			&cli.StringFlag{Name: "peers", Usage: "with a MANIFEST: comma-separated peer `ADDRS` serving it"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.StringFlag{Name: "wire", Value: "f32", Usage: "activations between peers: f32 or f16"},
		}, backendFlags()...), swarmFlags()...),
		Action: func(c *cli.Context) error {
			path, err := onePath(c)
			if err != nil {
				return err
			}
			if c.Bool("weights") {
				return verifyWeights(c, path)
			}
			if c.Int("top-k") <= 0 {
				return fmt.Errorf("--top-k %d: must be positive", c.Int("top-k"))
			}
			var r *verifyReport
			if manifest, ok := manifestPath(path); ok {
				r, err = verifyPeers(c, manifest)
			} else {
				r, err = verifyLocal(c, path)
			}
			if err != nil {
				return err
			}
			r.finish()
			if c.Bool("json") {
				err = r.writeJSON(os.Stdout)
			} else {
				r.print(os.Stdout)
			}
			if err != nil {
				return err
			}
			if r.Failure != nil {
				return errVerifyFailed
			}
			return nil
		},
	}
}

var errVerifyFailed = errors.New("verify: the computation left the bar of exact arithmetic (see above)")

// hiddenStates collects what a probe sees: key layer and stage, value
// positions × embedding, in position order.
type hiddenStates struct {
	mu     sync.Mutex
	width  int
	states map[hiddenKey][]float32
}

type hiddenKey struct {
	layer int
	stage engine.Stage
}

func newHiddenStates(width int) *hiddenStates {
	return &hiddenStates{width: width, states: map[hiddenKey][]float32{}}
}

// add records the hidden states of positions [pos, pos+len/width).
func (h *hiddenStates) add(layer int, stage engine.Stage, pos int, hidden []float32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := hiddenKey{layer, stage}
	s := h.states[k]
	if need := (pos + len(hidden)/h.width) * h.width; len(s) < need {
		s = append(s, make([]float32, need-len(s))...)
	}
	copy(s[pos*h.width:], hidden)
	h.states[k] = s
}

// verifyLocal checks a model file on this machine's CPU or Vulkan device.
func verifyLocal(c *cli.Context, path string) (*verifyReport, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vocab, err := engine.VocabFrom(f)
	if err != nil {
		return nil, err
	}
	config, err := engine.ConfigFrom(f)
	if err != nil {
		return nil, err
	}
	tokens := vocab.Encode(c.String("prompt"), true, false)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("verify: the prompt has no tokens")
	}
	backend, err := openBackend(c)
	if err != nil {
		return nil, err
	}
	defer backend.Close()
	states := newHiddenStates(config.Embedding)
	frag, err := engine.NewFragment(f, backend, engine.FragmentOptions{Probe: states.add})
	if err != nil {
		return nil, err
	}
	s, err := frag.NewSession(len(tokens))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	logits := make([]float32, frag.OutputSize(len(tokens), true))
	start := time.Now()
	if err := frag.Forward(logits, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		return nil, err
	}
	r := &verifyReport{Model: config.Name, Path: backend.Name(), Device: backend.Device(), Tokens: len(tokens),
		EngineMS: ms(time.Since(start))}
	exact, err := engine.NewExact(f)
	if err != nil {
		return nil, err
	}
	err = r.againstExact(c, exact, tokens, logits, func(layer int, stage engine.Stage) ([]float32, verifyCheck, bool) {
		return states.states[hiddenKey{layer, stage}], verifyCheck{}, true
	})
	return r, err
}

// againstExact runs the exact pass over tokens and fills the report: a
// check for each layer and stage that computed says it has (its hidden
// states, and the check's peer), the logits, the exact pass's time; and
// the dump, if asked for.
func (r *verifyReport) againstExact(c *cli.Context, exact *engine.Exact, tokens []int32, logits []float32,
	computed func(layer int, stage engine.Stage) ([]float32, verifyCheck, bool)) error {
	start := time.Now()
	var dumpErr error
	want, err := exact.Forward(tokens, func(layer int, stage engine.Stage, hidden [][]float64) {
		got, check, ok := computed(layer, stage)
		if !ok {
			return
		}
		check.Layer, check.Stage = layer, stage.String()
		check.compare(got, hidden)
		r.Checks = append(r.Checks, check)
		if dumpErr == nil {
			dumpErr = dumpStates(c.String("dump"), layer, stage, got, hidden)
		}
	})
	if err != nil {
		return err
	}
	if dumpErr != nil {
		return dumpErr
	}
	r.ExactMS = ms(time.Since(start))
	r.Logits = compareLogits(logits, want, c.Int("top-k"))
	return dumpLogits(c.String("dump"), logits, want)
}

// compareLogits compares rows of logits (flattened) with the exact rows.
func compareLogits(got []float32, want [][]float64, k int) verifyLogits {
	v := len(want[0])
	l := verifyLogits{TopK: min(k, v), Agreement: 1}
	for r := range want {
		row := got[r*v : (r+1)*v]
		e := nmse(row, want[r:r+1])
		if !(e <= l.NMSE) { // NaN sticks
			l.NMSE = e
		}
		l.Agreement = min(l.Agreement, topAgreement(row, want[r], k))
		l.Positions++
	}
	return l
}

// dumpStates writes a layer's hidden states, computed and exact, as
// float32 files in dir (if set).
func dumpStates(dir string, layer int, stage engine.Stage, got []float32, want [][]float64) error {
	if dir == "" {
		return nil
	}
	name := fmt.Sprintf("layer-%03d-%s", layer, stage)
	return dumpPair(dir, name, got, want)
}

func dumpLogits(dir string, got []float32, want [][]float64) error {
	if dir == "" {
		return nil
	}
	return dumpPair(dir, "logits", got, want)
}

func dumpPair(dir, name string, got []float32, want [][]float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var w32 []float32
	for _, row := range want {
		for _, x := range row {
			w32 = append(w32, float32(x))
		}
	}
	if got != nil {
		if err := writeFloats(filepath.Join(dir, name+".f32"), got); err != nil {
			return err
		}
	}
	return writeFloats(filepath.Join(dir, name+".exact.f32"), w32)
}
