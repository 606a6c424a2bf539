package gguf

import "testing"

func TestFileTypeString(t *testing.T) {
	for ft, want := range map[FileType]string{
		0: "F32", 1: "F16", 2: "Q4_0", 7: "Q8_0", 10: "Q2_K", 12: "Q3_K_M", 15: "Q4_K_M",
		17: "Q5_K_M", 18: "Q6_K", 25: "IQ4_NL", 30: "IQ4_XS", 32: "BF16", 38: "MXFP4_MOE",
		4: "file type 4", 1024: "file type 1024",
	} {
		if got := ft.String(); got != want {
			t.Errorf("FileType(%d) = %q, want %q", ft, got, want)
		}
	}
}
