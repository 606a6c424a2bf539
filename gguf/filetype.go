package gguf

import "strconv"

// A FileType is general.file_type: the quantization a whole file was
// made with, llama.cpp's llama_ftype ("mostly" that type: norms and some
// tensors stay in other types).
type FileType uint32

// fileTypes names llama.cpp's file types; 4 to 6 and 33 to 35 are no
// longer written.
var fileTypes = map[FileType]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
	36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

// String is the type's name (Q4_K_M), or its number when llama.cpp has none.
func (t FileType) String() string {
	if s, ok := fileTypes[t]; ok {
		return s
	}
	return "file type " + strconv.FormatUint(uint64(t), 10)
}

// FileType is the file's general.file_type, and whether it has one.
func (f *File) FileType() (FileType, bool) {
	n, err := f.Int("general.file_type")
	if err != nil || n < 0 || n > 1<<31 {
		return 0, false
	}
	return FileType(n), true
}
