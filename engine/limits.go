package engine

// Bounds on a model's dimensions, well above any model of the llama family
// (Llama 3 405B: 126 layers, width 16384, feed-forward 53248, vocabulary
// 128256), so that a hostile file, or a hostile peer describing its
// fragment, cannot make activations or caches of absurd size.
const (
	MaxLayers      = 1024
	MaxEmbedding   = 1 << 16
	MaxFeedForward = 1 << 18
	MaxHeads       = 1024
	MaxHeadDim     = 1024
	MaxVocab       = 1 << 22
)
