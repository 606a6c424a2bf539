package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"strata/api"
	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

func samplingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 128, Usage: "tokens to generate (-1: until end of text or context)"},
		&cli.Float64Flag{Name: "temp", Aliases: []string{"temperature"}, Value: 0.8, Usage: "temperature (0: greedy)"},
		&cli.IntFlag{Name: "top-k", Value: 40, Usage: "sample from the K most likely tokens (0: all)"},
		&cli.Float64Flag{Name: "top-p", Value: 0.95, Usage: "sample from the smallest set of probability P (0: the most likely token alone, 1: all)"},
		&cli.Float64Flag{Name: "min-p", Value: 0.05, Usage: "drop tokens less likely than P × the best (0: none)"},
		&cli.Float64Flag{Name: "repeat-penalty", Value: 1, Usage: "penalize recently seen tokens (1: none)"},
		&cli.IntFlag{Name: "repeat-last-n", Value: 64, Usage: "tokens the penalties look back on (-1: all)"},
		&cli.Float64Flag{Name: "frequency-penalty", Usage: "subtract this from a recent token's logit per occurrence (0: none)"},
		&cli.Float64Flag{Name: "presence-penalty", Usage: "subtract this from the logit of a token seen recently (0: none)"},
		&cli.Int64Flag{Name: "seed", Aliases: []string{"s"}, Value: -1, Usage: "random seed (-1: a random one)"},
		&cli.BoolFlag{Name: "ignore-eos", Usage: "keep generating after the end-of-text token"},
		&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Usage: "context size in tokens (0: the model's trained context, capped by memory)"},
	}
}

// textFlags are run's and chat's flags of the text around generation:
// stop strings and escapes, as llama.cpp's.
func textFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "reverse-prompt", Aliases: []string{"r", "stop"}, Value: &stringList{}, Usage: "stop generating at `TEXT`, which is not printed (repeatable)"},
		&cli.BoolFlag{Name: "escape", Aliases: []string{"e"}, Value: true, Usage: `process escapes (\n, \r, \t, \', \", \\, \xNN) in -p, --system and -r`},
		&cli.BoolFlag{Name: "no-escape", Usage: "take -p, --system and -r as they are"},
	}
}

// modelUsage is the usage of a MODEL: a file, a cached name, or a split model.
const modelUsage = "MODEL is a GGUF file, a model pulled by 'strata pull' (REPO:QUANT or an alias), or a split model (its manifest.json, or the directory holding it) run through --peers."

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "generate text from a prompt",
		ArgsUsage: "MODEL",
		Description: "Streams the continuation of the prompt to stdout and timings to stderr.\n" +
			"With --json, stdout holds one JSON line with the tokens, the text and the timings.\n" +
			modelUsage + "\nCtrl-C stops generating: what was generated is printed, and strata exits with 130.",
		Flags: append(append(append(append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "the prompt `TEXT` (escapes processed, see -e)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the prompt from `FILE`, as it is: no escapes processed, nothing trimmed"},
			&cli.BoolFlag{Name: "special", Aliases: []string{"sp"}, Usage: "parse the text of special tokens in the prompt (<s>, [INST], ...) into those tokens"},
			&cli.BoolFlag{Name: "no-bos", Usage: "do not add the begin-of-text token to the prompt"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON line with the result instead of streaming text"},
			&cli.StringFlag{Name: "peers", Usage: "run through these comma-separated peer `ADDRS`, which serve the split MODEL's fragments or layers of the MODEL file"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.StringFlag{Name: "wire", Value: "f32", Usage: "hidden states between peers as `FORMAT`: f32 or f16"},
			&cli.Float64Flag{Name: "verify-rate", Usage: "recompute this `SHARE` of each peer's forwards (the first always) on a witness, the fragment beside the manifest or a replica, and drop a peer that differs"},
		}, textFlags()...), samplingFlags()...), backendFlags()...), append(swarmFlags(), joinFlags()...)...),
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

// Stop reasons of run besides engine's.
const (
	stopError       = "error"       // generation failed; the tokens before the failure
	stopString      = "stop"        // a -r string ended the text (not in it)
	stopInterrupted = "interrupted" // Ctrl-C
)

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
	intr := watchInterrupts()
	defer intr.stop()
	path, err := modelPath(c)
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
	stops := stopStrings(c)
	if manifest, ok := manifestPath(path); ok {
		return runPeers(c, intr, manifest, prompt, opts, stops)
	}
	if c.IsSet("peers") || joining(c) {
		return runPeers(c, intr, path, prompt, opts, stops)
	}
	m, session, err := openSession(c, path)
	if err != nil {
		return err
	}
	defer m.Close()
	defer session.Close()
	promptTokens, err := m.vocab.EncodePrompt(prompt, !c.Bool("no-bos"), c.Bool("special"), session.Context())
	if err != nil {
		return err
	}
	return generate(c, intr, withPromptMeter(session, m.batch), m.vocab, promptTokens, opts, stops,
		runResult{Backend: m.backend.Name(), Device: m.backend.Device()}, nil)
}

// peerRoute is a split model computed by peers: the route through them,
// and the model as the first fragment file describes it.
type peerRoute struct {
	route     *transport.Route
	file      *gguf.File // the first fragment: vocabulary, metadata, chat template
	vocab     *engine.Vocab
	config    engine.Config
	witnesses *localWitnesses
}

func (p *peerRoute) Close() {
	p.route.Close()
	if p.witnesses != nil {
		p.witnesses.Close()
	}
	p.file.Close()
}

// openRoute connects to the --peers serving the split model of a
// manifest, or layers of the whole model file at path (the vocabulary and
// the model's identity, its sha256, come from the file; the peers serve
// ranges of the same file: 'strata serve MODEL --layers', or fragments
// split from it).
func openRoute(c *cli.Context, path string) (*peerRoute, error) {
	if c.IsSet("peers") && joining(c) {
		return nil, fmt.Errorf("--peers and a swarm to join: give one (the swarm's plan names its peers)")
	}
	if !c.IsSet("peers") && !joining(c) {
		return nil, fmt.Errorf("a split model runs through peers: give --peers ADDR,ADDR,... (or --join a swarm)")
	}
	if n := c.Int("ctx-size"); n != 0 { // 0: the peers' own
		if err := checkContext("-c", n); err != nil {
			return nil, err
		}
	}
	o := transport.RouteOptions{Context: c.Int("ctx-size"), VerifyRate: c.Float64("verify-rate")}
	first := path
	manifest, isManifest := manifestPath(path)
	var m *engine.Manifest
	if isManifest {
		var err error
		if m, err = engine.ReadManifest(manifest); err != nil {
			return nil, err
		}
		first = filepath.Join(filepath.Dir(manifest), m.Fragments[0].File)
		o.Manifest = m
	}
	f, err := gguf.Open(first)
	if err != nil {
		if isManifest {
			return nil, fmt.Errorf("the vocabulary comes from the first fragment: %w", err)
		}
		return nil, err
	}
	p := &peerRoute{file: f}
	fail := func(err error) (*peerRoute, error) {
		f.Close()
		if p.witnesses != nil {
			p.witnesses.Close()
		}
		return nil, err
	}
	if !isManifest {
		if frag, ok := engine.FragmentFile(f); ok {
			return fail(fmt.Errorf("%s is %s of a split model: run its manifest.json (the directory holding it) through --peers", path, frag))
		}
		if o.ModelSHA256, err = modelSHA256(path); err != nil {
			return fail(err)
		}
	}
	if p.vocab, err = engine.VocabFrom(f); err != nil {
		return fail(err)
	}
	if p.config, err = engine.ConfigFrom(f); err != nil {
		return fail(err)
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return fail(err)
	}
	if o.Wire, err = transport.ParseWire(c.String("wire")); err != nil {
		return fail(err)
	}
	if isManifest {
		p.witnesses = newLocalWitnesses(c, manifest, m)
		o.Witness = p.witnesses.fragment
	}
	o.DialOptions = transport.DialOptions{Identity: id, Swarm: swarm, Pins: splitList(c.String("peer-id"))}
	o.Model = &p.config
	addrs := splitList(c.String("peers"))
	if joining(c) {
		if isManifest {
			return fail(fmt.Errorf("a swarm serves layers of the whole model file: give the model file, not a split model"))
		}
		var ids []string
		if addrs, ids, err = swarmPeers(c, id, swarm, o.ModelSHA256); err != nil {
			return fail(err)
		}
		if len(o.Pins) == 0 {
			o.Pins = ids
		}
	}
	if p.route, err = transport.NewRoute(c.Context, addrs, o); err != nil {
		return fail(err)
	}
	return p, nil
}

// runPeers generates through the peers serving a split model.
func runPeers(c *cli.Context, intr *interrupts, manifest, prompt string, opts engine.GenerateOptions, stops []string) error {
	p, err := openRoute(c, manifest)
	if err != nil {
		return err
	}
	defer p.Close()
	route := p.route
	promptTokens, err := p.vocab.EncodePrompt(prompt, !c.Bool("no-bos"), c.Bool("special"), route.Context())
	if err != nil {
		return err
	}
	device := count(len(route.Stats()), "peer", "peers")
	return generate(c, intr, withPromptMeter(route, engine.DefaultBatch), p.vocab, promptTokens, opts, stops,
		runResult{Backend: "peers", Device: device}, func(r *runResult) {
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

// errStopString ends a generation whose text reached a -r string.
var errStopString = errors.New("a stop string ended the text")

// generate runs the generation loop on a stack and prints the result:
// streamed text, or one JSON line; timings on stderr. report, if set,
// completes the result and prints its own lines. The text stops before
// the first of stops it holds. When generation fails (a peer with no
// replica died), what was generated is printed all the same, the JSON
// with stop "error" and the error, and the error returned; when Ctrl-C
// stops it, what was generated is printed and strata exits with 130.
func generate(c *cli.Context, intr *interrupts, stack engine.Stack, vocab *engine.Vocab, promptTokens []int32, opts engine.GenerateOptions,
	stops []string, res runResult, report func(*runResult)) error {
	opts.IsEOG = vocab.IsEOG
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	intr.set(cancel)
	defer intr.set(nil)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	text := vocab.NewTextStream()
	stopper := api.Stopper{Stops: stops}
	var all []byte
	n := 0
	write := func(piece string) error {
		all = append(all, piece...)
		if !c.Bool("json") {
			out.WriteString(piece)
			return out.Flush()
		}
		return nil
	}
	emit := func(tok int32) error {
		n++
		slog.Debug("token", "n", n, "id", tok)
		piece, hit := stopper.Add(text.Add(tok))
		if err := write(piece); err != nil || !hit {
			return err
		}
		return errStopString
	}
	r, err := engine.Generate(ctx, stack, promptTokens, opts, emit)
	if !errors.Is(err, errStopString) {
		piece, hit := stopper.Add(text.Flush())
		if !hit {
			piece += stopper.Flush()
		} else if err == nil {
			err = errStopString
		}
		write(piece)
	}
	interrupted := false
	switch {
	case errors.Is(err, errStopString):
		r.Stop, err = stopString, nil
	case errors.Is(err, context.Canceled) && intr.fired():
		r.Stop, err, interrupted = stopInterrupted, nil, true
	case err != nil:
		r.Stop, res.Error = stopError, oneLine(err.Error())
	}
	t := timings(len(promptTokens), &r)
	fmt.Fprintf(os.Stderr, "\nprompt: %s in %.1f ms (%.1f tokens/s); generation: %s, %s in %.1f ms (%.1f tokens/s); %s on %s\n",
		count(t.PromptTokens, "token", "tokens"), t.PromptMS, t.PromptPerSecond, count(t.Tokens, "token", "tokens"),
		count(t.DecodeSteps, "decode step", "decode steps"), t.PredictMS, t.PerSecond, res.Backend, res.Device)
	if report != nil {
		report(&res)
	}
	if interrupted {
		err = errInterrupted
	}
	if !c.Bool("json") {
		out.WriteString("\n")
		return err
	}
	res.PromptTokens, res.Tokens, res.Text, res.Stop, res.Seed, res.Timings = promptTokens, nonNil(r.Tokens), string(all), string(r.Stop), opts.Sampler.Seed, t
	if jerr := json.NewEncoder(out).Encode(res); jerr != nil {
		return jerr
	}
	return err
}

// stringList is a repeatable flag: each -r TEXT adds TEXT, commas and
// all.
type stringList []string

func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
func (l *stringList) String() string     { return "" } // no default to show

// stopStrings are the -r strings, their escapes processed unless
// --no-escape.
func stopStrings(c *cli.Context) []string {
	var out []string
	list, ok := c.Generic("reverse-prompt").(*stringList)
	if !ok || list == nil {
		return nil
	}
	for _, s := range *list {
		if s = escaped(c, s); s != "" {
			out = append(out, s)
		}
	}
	return out
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
		return readPromptFile(f)
	case p != "":
		return escaped(c, p), nil
	}
	return "", fmt.Errorf("no prompt: give one with -p TEXT or -f FILE")
}

// readPromptFile reads a prompt file into a string in one copy of its
// bytes (os.ReadFile and a conversion would hold two): a prompt far past
// the context is refused by its token count, so it should cost no more
// than its own size before that.
func readPromptFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("prompt file: %w", err)
	}
	defer f.Close()
	var b strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		b.Grow(int(fi.Size()))
	}
	if _, err := io.Copy(&b, f); err != nil {
		return "", fmt.Errorf("prompt file: %w", err)
	}
	return b.String(), nil
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

// fallbackContext is the context of a model that does not say what it
// was trained for.
const fallbackContext = 4096

// contextSize reads -c for sessions sessions of the fragment f running
// batches of batch positions. Its default, 0, is the model's trained
// context, capped (and said so) where the KV caches would take more than
// the memory left by the weights and activations of 3/4 of the machine's.
func contextSize(c *cli.Context, f *engine.Fragment, batch, sessions int) (int, error) {
	have, source := engine.MachineMemory()
	return contextWithin(c, &f.Config, f.End-f.Start, f.WeightBytes(), batch, sessions, have/4*3, have, source)
}

// contextWithin is contextSize for a model of layers layers and weights
// bytes whose sessions must fit in room bytes (of have, from source, for
// the log line).
func contextWithin(c *cli.Context, cfg *engine.Config, layers int, weights int64, batch, sessions int, room, have int64, source string) (int, error) {
	if n := c.Int("ctx-size"); n != 0 {
		if err := checkContext("-c", n); err != nil {
			return 0, err
		}
		if cfg.Context > 0 && n > cfg.Context {
			slog.Warn("the context is longer than the model was trained for", "ctx_size", n, "trained", cfg.Context)
		}
		return n, nil
	}
	n, uncapped := fitContext(cfg, layers, weights, batch, sessions, room)
	if cfg.Context <= 0 {
		slog.Info("the model does not say its context length: -c sets it", "ctx_size", fallbackContext)
	}
	if n < uncapped {
		slog.Info("the context is capped by memory (-c sets it)", "ctx_size", n, "trained", uncapped,
			"kv_cache", engine.Bytes(cfg.Memory(layers, n, batch).KV*int64(max(sessions, 1))),
			"memory", engine.Bytes(have), "of", source)
	}
	return n, nil
}

// fitContext is the default context of sessions sessions: the model's
// trained context (fallbackContext where it says none), at most
// maxContext, cut to what fits in room bytes beside the weights and
// activations (a multiple of 256 where that is 256 or more, at least 1).
// It returns the context before the cut too.
func fitContext(cfg *engine.Config, layers int, weights int64, batch, sessions int, room int64) (n, uncapped int) {
	n = cfg.Context
	if n <= 0 {
		n = fallbackContext
	}
	n = min(n, maxContext)
	uncapped = n
	budget := room - weights - cfg.Memory(layers, 0, batch).Activations
	perPosition := cfg.Memory(layers, 1, batch).KV * int64(max(sessions, 1))
	if fit := budget / max(perPosition, 1); fit < int64(n) {
		capped := int(max(fit, 1))
		if capped >= 256 {
			capped = capped / 256 * 256
		}
		n = capped
	}
	return n, uncapped
}
