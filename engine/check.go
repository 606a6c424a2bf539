package engine

import "strata/gguf"

// CheckModel checks a whole model file as NewFragment would load all its
// layers, without a backend and without computing: its configuration,
// every tensor present with its shape, none that the engine would ignore,
// finite norms and block scales. Split runs it before writing anything.
func CheckModel(f *gguf.File) (Config, error) {
	c, err := ConfigFrom(f)
	if err != nil {
		return Config{}, err
	}
	l := &loader{f: f, used: map[string]bool{}}
	if _, err := l.load("token_embd.weight", c.Embedding, c.Vocab); err != nil {
		return Config{}, err
	}
	for i := range c.Layers {
		if _, err := l.layer(&c, i); err != nil {
			return Config{}, err
		}
	}
	if _, err := l.load("output_norm.weight", c.Embedding, 0); err != nil {
		return Config{}, err
	}
	if _, ok := f.Tensor("output.weight"); ok {
		if _, err := l.load("output.weight", c.Embedding, c.Vocab); err != nil {
			return Config{}, err
		}
	}
	if err := l.checkUnused(0, c.Layers, true, true); err != nil {
		return Config{}, err
	}
	factors, err := ropeFactors(f)
	if err != nil {
		return Config{}, err
	}
	if _, err := c.RopeFreqs(factors); err != nil {
		return Config{}, err
	}
	return c, nil
}
