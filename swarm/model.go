package swarm

import (
	"fmt"

	"strata/engine"
	"strata/gguf"
)

// ModelOf reads the shape placement needs from a whole model's file: the
// bytes of each layer, of the embedding and of the head as a fragment
// loads them (engine.WeightBytes), and the KV cache and activations of
// engine's memory accounting (engine.Config.Memory) for sessions of
// context positions in all (0: engine.ContextForMemory, as a manifest
// counts) and batches of batch positions (0: engine.DefaultBatch). It
// reads metadata and tensor sizes only, not the weights.
func ModelOf(f *gguf.File, context, batch int) (Model, error) {
	if frag, ok := engine.FragmentFile(f); ok {
		return Model{}, fmt.Errorf("swarm: the file is %s, not a whole model", frag)
	}
	if context < 0 || batch < 0 {
		return Model{}, fmt.Errorf("swarm: context of %d positions, batches of %d: want 0 (the default) or more", context, batch)
	}
	if context == 0 {
		context = engine.ContextForMemory
	}
	if batch == 0 {
		batch = engine.DefaultBatch
	}
	c, err := engine.ConfigFrom(f)
	if err != nil {
		return Model{}, err
	}
	mem := c.Memory(1, context, batch)
	m := Model{
		Layers:          c.Layers,
		LayerBytes:      make([]int64, c.Layers),
		EmbedBytes:      engine.WeightBytes(f, 0, 0, true, false),
		HeadBytes:       engine.WeightBytes(f, 0, 0, false, true),
		KVBytesPerLayer: mem.KV,
		ActivationBytes: mem.Activations,
	}
	for l := range m.LayerBytes {
		m.LayerBytes[l] = engine.WeightBytes(f, l, l+1, false, false)
	}
	if err := m.validate(); err != nil {
		return Model{}, err
	}
	return m, nil
}
