package main

import (
	"fmt"
	"log/slog"
	"os"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// checkMemory refuses sizes whose memory (engine.Config.Memory: the
// activations of a batch, one session's KV cache) would not fit in the
// machine's memory, naming the flag that asks for the most, before any of
// it is allocated. A fragment of layers layers runs batches of batch
// positions; context 0 checks the activations alone. contextFlag names
// the flag that asked for the context ("-c 4096").
func checkMemory(cfg *engine.Config, layers, context, batch int, contextFlag string) error {
	m := cfg.Memory(layers, context, batch)
	have, source := engine.MachineMemory()
	if m.Total() <= have {
		return nil
	}
	flag := fmt.Sprintf("-b %d", batch)
	if m.KV > m.Activations {
		flag = contextFlag
	}
	return fmt.Errorf("%s: needs %s: %v; %s is %s", flag, engine.Bytes(m.Total()), m, source, engine.Bytes(have))
}

// checkWeights refuses, before any is loaded, the weights of layers
// [start, end) of f that a CPU backend would copy into memory of its own
// (the default; --mmap computes from the file's mapping instead) when they
// alone would not fit in the machine's memory.
func checkWeights(b engine.Backend, f *gguf.File, start, end int) error {
	return checkMoreWeights(b, f, start, end, 0)
}

// checkMoreWeights is checkWeights beside held bytes of weights loaded
// already (a peer loading the layers it is assigned while it serves
// others).
func checkMoreWeights(b engine.Backend, f *gguf.File, start, end int, held int64) error {
	if c, ok := b.(*cpu.Backend); !ok || !c.CopiesWeights() {
		return nil
	}
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return err
	}
	need := engine.WeightBytes(f, start, end, start == 0, end == cfg.Layers)
	have, source := engine.MachineMemory()
	if need+held <= have {
		return nil
	}
	if held > 0 {
		return fmt.Errorf("the weights need %s of memory of strata's own beside the %s held, and %s is %s (--mmap computes from the file's mapping instead)",
			engine.Bytes(need), engine.Bytes(held), source, engine.Bytes(have))
	}
	return fmt.Errorf("the weights need %s of memory of strata's own, and %s is %s (--mmap computes from the file's mapping instead)",
		engine.Bytes(need), source, engine.Bytes(have))
}

// warnSessions logs when sessions sessions of context positions each
// could together outgrow the machine's memory.
func warnSessions(cfg *engine.Config, layers, context, batch, sessions int) {
	m := cfg.Memory(layers, context, batch)
	have, source := engine.MachineMemory()
	if all := m.KV * int64(sessions); all/int64(sessions) != m.KV || all > have {
		slog.Warn("the sessions could outgrow memory", "sessions", sessions, "kv_each", engine.Bytes(m.KV),
			"memory", engine.Bytes(have), "of", source)
	}
}

// checkMemoryEnv refuses a STRATA_MEMORY that is not a size.
func checkMemoryEnv() error {
	s := os.Getenv(engine.MemoryEnv)
	if s == "" {
		return nil
	}
	if n, err := engine.ParseSize(s); err != nil || n <= 0 {
		return fmt.Errorf("%s=%s: want a size in bytes, or with a unit: 512M, 16G, 1T", engine.MemoryEnv, s)
	}
	return nil
}
