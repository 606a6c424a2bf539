package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

func samplingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 128, Usage: "tokens to generate (-1: until end of text or context)"},
		&cli.Float64Flag{Name: "temp", Value: 0.8, Usage: "temperature (0: greedy)"},
		&cli.IntFlag{Name: "top-k", Value: 40, Usage: "sample from the K most likely tokens (0: all)"},
		&cli.Float64Flag{Name: "top-p", Value: 0.95, Usage: "sample from the smallest set of probability P (1: all)"},
		&cli.Float64Flag{Name: "min-p", Value: 0.05, Usage: "drop tokens less likely than P × the best (0: none)"},
		&cli.Float64Flag{Name: "repeat-penalty", Value: 1, Usage: "penalize recently seen tokens (1: none)"},
		&cli.IntFlag{Name: "repeat-last-n", Value: 64, Usage: "tokens the penalties look back on (-1: all)"},
		&cli.Float64Flag{Name: "frequency-penalty", Usage: "subtract this from a recent token's logit per occurrence (0: none)"},
		&cli.Float64Flag{Name: "presence-penalty", Usage: "subtract this from the logit of a token seen recently (0: none)"},
		&cli.Int64Flag{Name: "seed", Aliases: []string{"s"}, Value: -1, Usage: "random seed (-1: a random one)"},
		&cli.BoolFlag{Name: "ignore-eos", Usage: "keep generating after the end-of-text token"},
		&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Value: 4096, Usage: "context size in tokens (0: the model's)"},
	}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "generate text from a prompt",
		ArgsUsage: "MODEL",
		Description: "Streams the continuation of the prompt to stdout and timings to stderr.\n" +
			"With --json, stdout holds one JSON line with the tokens, the text and the timings.",
		Flags: append(append(append([]cli.Flag{
			&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "the prompt `TEXT`"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the prompt from `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON line with the result instead of streaming text"},
			&cli.StringFlag{Name: "peers", Usage: "with MODEL a manifest.json: run through these comma-separated peer `ADDRS`"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.StringFlag{Name: "wire", Value: "f32", Usage: "hidden states between peers as `FORMAT`: f32 or f16"},
			&cli.Float64Flag{Name: "verify-rate", Usage: "recompute this `SHARE` of each peer's forwards (the first always) on a witness, the fragment beside the manifest or a replica, and drop a peer that differs"},
		}, samplingFlags()...), backendFlags()...), swarmFlags()...),
		OnUsageError: usageError,
		Action:       run,
	}
}

// runResult is the --json output of strata run.
type runResult struct {
	PromptTokens []int32              `json:"prompt_tokens"`
	Tokens       []int32              `json:"tokens"`
	Text         string               `json:"text"`
	Stop         string               `json:"stop"`
	Seed         uint64               `json:"seed"`
	Backend      string               `json:"backend"`
	Device       string               `json:"device"`
	Timings      runTimings           `json:"timings"`
	Peers        []transport.HopStats `json:"peers,omitempty"`
	Error        string               `json:"error,omitempty"` // with stop "error": what ended generation
}

// stopError is the stop reason of a generation that failed, with the
// tokens before the failure.
const stopError = "error"

type runTimings struct {
	PromptTokens    int     `json:"prompt_tokens"`
	PromptMS        float64 `json:"prompt_ms"`
	PromptPerSecond float64 `json:"prompt_tokens_per_second"`
	Tokens          int     `json:"predicted_tokens"`
	PredictMS       float64 `json:"predicted_ms"`
	DecodeSteps     int     `json:"decode_steps"`
	PerSecond       float64 `json:"predicted_tokens_per_second"`
}

func run(c *cli.Context) error {
	path, err := onePath(c)
	if err != nil {
		return err
	}
	prompt, err := promptText(c)
	if err != nil {
		return err
	}
	opts, err := generateOptions(c)
	if err != nil {
		return err
	}
	if strings.HasSuffix(path, ".json") {
		return runPeers(c, path, prompt, opts)
	}
	if c.IsSet("peers") {
		return fmt.Errorf("--peers needs a manifest.json (from 'strata split') as MODEL")
	}
	m, session, err := openSession(c, path)
	if err != nil {
		return err
	}
	defer m.Close()
	defer session.Close()
	promptTokens, err := m.vocab.EncodePrompt(prompt, true, false, session.Context())
	if err != nil {
		return err
	}
	return generate(c, session, m.vocab, promptTokens, opts, runResult{Backend: m.backend.Name(), Device: m.backend.Device()}, nil)
}

// runPeers generates through the peers serving a split model.
func runPeers(c *cli.Context, manifest, prompt string, opts engine.GenerateOptions) error {
	if !c.IsSet("peers") {
		return fmt.Errorf("a manifest runs through peers: give --peers ADDR,ADDR,...")
	}
	if n := c.Int("ctx-size"); n != 0 { // 0: the peers' own
		if err := checkContext("-c", n); err != nil {
			return err
		}
	}
	m, err := engine.ReadManifest(manifest)
	if err != nil {
		return err
	}
	f, err := gguf.Open(filepath.Join(filepath.Dir(manifest), m.Fragments[0].File))
	if err != nil {
		return fmt.Errorf("the vocabulary comes from the first fragment: %w", err)
	}
	defer f.Close()
	vocab, err := engine.VocabFrom(f)
	if err != nil {
		return err
	}
	model, err := engine.ConfigFrom(f)
	if err != nil {
		return err
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return err
	}
	wire, err := transport.ParseWire(c.String("wire"))
	if err != nil {
		return err
	}
	witnesses := newLocalWitnesses(c, manifest, m)
	defer witnesses.Close()
	route, err := transport.NewRoute(c.Context, splitList(c.String("peers")), transport.RouteOptions{
		DialOptions: transport.DialOptions{Identity: id, Swarm: swarm, Pins: splitList(c.String("peer-id"))},
		Wire:        wire, Manifest: m, Model: &model, Context: c.Int("ctx-size"),
		VerifyRate: c.Float64("verify-rate"), Witness: witnesses.fragment,
	})
	if err != nil {
		return err
	}
	defer route.Close()
	promptTokens, err := vocab.EncodePrompt(prompt, true, false, route.Context())
	if err != nil {
		return err
	}
	device := count(len(route.Stats()), "peer", "peers")
	return generate(c, route, vocab, promptTokens, opts, runResult{Backend: "peers", Device: device}, func(r *runResult) {
		r.Peers = route.Stats()
		for _, h := range r.Peers {
			fmt.Fprintf(os.Stderr, "peer %s layers %d-%d (%s, %s): %s, compute %.1f ms, round trips %.1f ms, sent %.1f KiB (%.1f KiB raw)",
				h.Addr, h.Start, h.End-1, h.Backend, h.Device, count(h.Forwards, "batch", "batches"), ms(h.Compute), ms(h.Wall), float64(h.Sent)/1024, float64(h.Raw)/1024)
			if h.Replaced > 0 {
				fmt.Fprintf(os.Stderr, ", took over %d time(s)", h.Replaced)
			}
			if h.Checked > 0 {
				fmt.Fprintf(os.Stderr, ", %d checked (%d failed)", h.Checked, h.Mismatched)
			}
			fmt.Fprintln(os.Stderr)
		}
	})
}

// generate runs the generation loop on a stack and prints the result:
// streamed text, or one JSON line; timings on stderr. report, if set,
// completes the result and prints its own lines. When generation fails
// (a peer with no replica died), what was generated is printed all the
// same, the JSON with stop "error" and the error, and the error returned.
func generate(c *cli.Context, stack engine.Stack, vocab *engine.Vocab, promptTokens []int32, opts engine.GenerateOptions,
	res runResult, report func(*runResult)) error {
	opts.IsEOG = vocab.IsEOG
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	text := vocab.NewTextStream()
	var all []byte
	n := 0
	emit := func(tok int32) error {
		n++
		slog.Debug("token", "n", n, "id", tok)
		piece := text.Add(tok)
		all = append(all, piece...)
		if !c.Bool("json") {
			out.WriteString(piece)
			return out.Flush()
		}
		return nil
	}
	r, err := engine.Generate(ctx, stack, promptTokens, opts, emit)
	rest := text.Flush()
	all = append(all, rest...)
	switch {
	case errors.Is(err, context.Canceled):
		r.Stop, err = "interrupted", nil
	case err != nil:
		r.Stop, res.Error = stopError, oneLine(err.Error())
	}
	t := timings(len(promptTokens), &r)
	fmt.Fprintf(os.Stderr, "\nprompt: %d tokens in %.1f ms (%.1f tokens/s); generation: %d tokens, %d decode steps in %.1f ms (%.1f tokens/s); %s on %s\n",
		t.PromptTokens, t.PromptMS, t.PromptPerSecond, t.Tokens, t.DecodeSteps, t.PredictMS, t.PerSecond, res.Backend, res.Device)
	if report != nil {
		report(&res)
	}
	if !c.Bool("json") {
		out.WriteString(rest + "\n")
		return err
	}
	res.PromptTokens, res.Tokens, res.Text, res.Stop, res.Seed, res.Timings = promptTokens, nonNil(r.Tokens), string(all), string(r.Stop), opts.Sampler.Seed, t
	if jerr := json.NewEncoder(out).Encode(res); jerr != nil {
		return jerr
	}
	return err
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func timings(promptTokens int, r *engine.Result) runTimings {
	perSecond := func(n int, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	return runTimings{
		PromptTokens: promptTokens, PromptMS: ms(r.PromptTime), PromptPerSecond: perSecond(promptTokens, r.PromptTime),
		// The first token comes from the prompt's logits; predicted_ms times
		// the decode steps that gave the others, so they are what is counted.
		Tokens: len(r.Tokens), PredictMS: ms(r.GenerateTime), DecodeSteps: r.DecodeSteps,
		PerSecond: perSecond(r.DecodeSteps, r.GenerateTime),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func promptText(c *cli.Context) (string, error) {
	switch p, f := c.String("prompt"), c.String("file"); {
	case p != "" && f != "":
		return "", fmt.Errorf("give the prompt with -p or -f, not both")
	case f != "":
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("prompt file: %w", err)
		}
		return string(b), nil
	case p != "":
		return p, nil
	}
	return "", fmt.Errorf("no prompt: give one with -p TEXT or -f FILE")
}

// generateOptions reads the sampling flags.
func generateOptions(c *cli.Context) (engine.GenerateOptions, error) {
	o := engine.GenerateOptions{MaxTokens: c.Int("n-predict"), IgnoreEOS: c.Bool("ignore-eos")}
	if o.MaxTokens == 0 || o.MaxTokens < -1 {
		return o, fmt.Errorf("-n %d: want a positive number of tokens, or -1", o.MaxTokens)
	}
	s := &o.Sampler
	s.Temperature = float32(c.Float64("temp"))
	s.TopK = c.Int("top-k")
	s.TopP = float32(c.Float64("top-p"))
	s.MinP = float32(c.Float64("min-p"))
	s.RepeatPenalty = float32(c.Float64("repeat-penalty"))
	s.RepeatLastN = c.Int("repeat-last-n")
	s.FrequencyPenalty = float32(c.Float64("frequency-penalty"))
	s.PresencePenalty = float32(c.Float64("presence-penalty"))
	switch {
	case s.TopK < 0:
		return o, fmt.Errorf("--top-k %d: want 0 or more", s.TopK)
	case s.TopP < 0 || s.TopP > 1:
		return o, fmt.Errorf("--top-p %v: want a value in [0, 1]", s.TopP)
	case s.MinP < 0 || s.MinP > 1:
		return o, fmt.Errorf("--min-p %v: want a value in [0, 1]", s.MinP)
	case s.RepeatPenalty < 0:
		return o, fmt.Errorf("--repeat-penalty %v: want 0 or more", s.RepeatPenalty)
	}
	if seed := c.Int64("seed"); seed >= 0 {
		s.Seed = uint64(seed)
	} else {
		s.Seed = rand.Uint64() >> 1
	}
	return o, nil
}

// maxContext is the longest context -c takes.
const maxContext = 1 << 24

// checkContext refuses a context size outside 1 to maxContext.
func checkContext(flag string, n int) error {
	if n <= 0 || n > maxContext {
		return fmt.Errorf("%s %d: want a context of 1 to %d positions", flag, n, maxContext)
	}
	return nil
}

// contextSize reads -c, 0 meaning the model's own context length.
func contextSize(c *cli.Context, cfg *engine.Config) (int, error) {
	n := c.Int("ctx-size")
	if n == 0 {
		n = cfg.Context
	}
	if err := checkContext("-c", n); err != nil {
		return 0, err
	}
	if cfg.Context > 0 && n > cfg.Context {
		slog.Warn("the context is longer than the model was trained for", "ctx_size", n, "trained", cfg.Context)
	}
	return n, nil
}
