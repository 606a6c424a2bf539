// K4SCALEBYTES leaves in CX the 8 six-bit scales and in DX the 8 six-bit
// mins of the Q4_K super-block at R10, a byte each, unpacked from its 12
// bytes of scales as format.ScaleMinK4 does. Uses AX, BX, SI and R8.
#define K4SCALEBYTES \
	MOVL 4(R10), AX \
	MOVL 8(R10), BX \
	MOVL 12(R10), CX \
	MOVL CX, DX \
	SHRL $4, DX \
	ANDL $0x0f0f0f0f, DX \
	MOVL BX, SI \
	SHRL $6, SI \
	ANDL $0x03030303, SI \
	SHLL $4, SI \
	ORL SI, DX \
	MOVL BX, R8 \
	ANDL $0x3f3f3f3f, R8 \
	ANDL $0x0f0f0f0f, CX \
	MOVL AX, SI \
	SHRL $6, SI \
	ANDL $0x03030303, SI \
	SHLL $4, SI \
	ORL SI, CX \
	ANDL $0x3f3f3f3f, AX \
	SHLQ $32, CX \
	ORQ AX, CX \
	SHLQ $32, DX \
	ORQ R8, DX
