package gguf

import "fmt"

// KeyFileType is the metadata key that says what most of a model's
// tensors are.
const KeyFileType = "general.file_type"

// FileType is general.file_type, llama.cpp's llama_ftype: the
// quantization a model file was made with ("Q4_K_M"), which names most of
// its tensors' types (a Q4_K_M file mixes Q4_K and Q6_K).
type FileType uint32

// fileTypeNames are the names llama-quantize gives each file type (and
// Hugging Face file names carry), by number. Gaps are numbers llama.cpp
// never used or removed without a name.
var fileTypeNames = map[FileType]string{
	0:  "F32",
	1:  "F16",
	2:  "Q4_0",
	3:  "Q4_1",
	4:  "Q4_1_SOME_F16", // removed from llama.cpp
	7:  "Q8_0",
	8:  "Q5_0",
	9:  "Q5_1",
	10: "Q2_K",
	11: "Q3_K_S",
	12: "Q3_K_M",
	13: "Q3_K_L",
	14: "Q4_K_S",
	15: "Q4_K_M",
	16: "Q5_K_S",
	17: "Q5_K_M",
	18: "Q6_K",
	19: "IQ2_XXS",
	20: "IQ2_XS",
	21: "Q2_K_S",
	22: "IQ3_XS",
	23: "IQ3_XXS",
	24: "IQ1_S",
	25: "IQ4_NL",
	26: "IQ3_S",
	27: "IQ3_M",
	28: "IQ2_S",
	29: "IQ2_M",
	30: "IQ4_XS",
	31: "IQ1_M",
	32: "BF16",
	33: "Q4_0_4_4", // removed from llama.cpp: Q4_0, repacked at run time
	34: "Q4_0_4_8", // removed likewise
	35: "Q4_0_8_8", // removed likewise
	36: "TQ1_0",
	37: "TQ2_0",
	38: "MXFP4_MOE",
	39: "NVFP4",
	40: "Q1_0",
	41: "Q2_0",
	// 1024 is llama.cpp's "guessed": not a number a file holds.
}

// String is llama-quantize's name of the file type, "Q4_K_M", or "file
// type N" for a number it does not know.
func (t FileType) String() string {
	if s, ok := fileTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("file type %d", uint32(t))
}

// Known reports whether t is a file type llama.cpp names.
func (t FileType) Known() bool {
	_, ok := fileTypeNames[t]
	return ok
}

// FileType returns the file's general.file_type; ok is false when the
// file has none (or one that is not an integer).
func (f *File) FileType() (t FileType, ok bool) {
	n, err := f.Int(KeyFileType)
	if err != nil || n < 0 || n > 1<<32-1 {
		return 0, false
	}
	return FileType(n), true
}
