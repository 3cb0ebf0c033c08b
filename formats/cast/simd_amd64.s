#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv0() (eax uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET

// func f32ToBF16AVX2(d *uint16, s *uint32, n int)
// n > 0 is a multiple of 16. Same rounding and NaN rule as f32ToBF16.
TEXT ·f32ToBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7FFF, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14 // rounding bias
	MOVL $1, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13 // 1
	MOVL $0x7FFFFFFF, AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12 // magnitude mask
	MOVL $0x7F800000, AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11 // +Inf
	MOVL $0x8000, AX
	MOVQ AX, X10
	VPBROADCASTD X10, Y10 // bfloat16 sign
	MOVL $0x7FC0, AX
	MOVQ AX, X9
	VPBROADCASTD X9, Y9 // bfloat16 quiet NaN

loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1

	VPSRLD $16, Y0, Y2
	VPAND Y13, Y2, Y3
	VPADDD Y14, Y0, Y4
	VPADDD Y3, Y4, Y4
	VPSRLD $16, Y4, Y4
	VPAND Y12, Y0, Y5
	VPCMPGTD Y11, Y5, Y5
	VPAND Y10, Y2, Y6
	VPOR Y9, Y6, Y6
	VPBLENDVB Y5, Y6, Y4, Y4

	VPSRLD $16, Y1, Y2
	VPAND Y13, Y2, Y3
	VPADDD Y14, Y1, Y7
	VPADDD Y3, Y7, Y7
	VPSRLD $16, Y7, Y7
	VPAND Y12, Y1, Y5
	VPCMPGTD Y11, Y5, Y5
	VPAND Y10, Y2, Y6
	VPOR Y9, Y6, Y6
	VPBLENDVB Y5, Y6, Y7, Y7

	VPACKUSDW Y7, Y4, Y8
	VPERMQ $0xD8, Y8, Y8
	VMOVDQU Y8, (DI)

	ADDQ $64, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JNZ loop
	VZEROUPPER
	RET

// func bf16ToF32AVX2(d *uint32, s *uint16, n int)
// n > 0 is a multiple of 16.
TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX

loop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ loop
	VZEROUPPER
	RET

// func f64ToBF16AVX2(d *uint16, s *uint64, n int) (done int)
// Rounds doubles to bfloat16 eight at a time, exactly as f64ToBF16Direct's
// fast branch, while all eight have normal bfloat16 results (double
// exponents 897..1150); returns how many it converted, a multiple of 8.
// n is a multiple of 8.
TEXT ·f64ToBF16AVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ DX, DX
	MOVQ $0x7FFFFFFFFFFFFFFF, AX
	MOVQ AX, X14
	VPBROADCASTQ X14, Y14 // magnitude mask
	MOVQ $897, AX
	MOVQ AX, X13
	VPBROADCASTQ X13, Y13 // smallest fast exponent
	MOVQ $253, AX
	MOVQ AX, X12
	VPBROADCASTQ X12, Y12 // exponent span
	MOVQ $0x00000FFFFFFFFFFF, AX
	MOVQ AX, X11
	VPBROADCASTQ X11, Y11 // rounding bias 2^44-1
	MOVQ $1, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10 // 1
	MOVQ $0x1C000, AX
	MOVQ AX, X9
	VPBROADCASTQ X9, Y9 // 896<<7: exponent rebias
	MOVQ $0x8000, AX
	MOVQ AX, X8
	VPBROADCASTQ X8, Y8 // bfloat16 sign
	VPXOR Y7, Y7, Y7

loop:
	CMPQ CX, $8
	JLT done
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VPAND Y14, Y0, Y2
	VPAND Y14, Y1, Y3

	// every exponent - 897 must lie in 0..253
	VPSRLQ $52, Y2, Y4
	VPSRLQ $52, Y3, Y5
	VPSUBQ Y13, Y4, Y4
	VPSUBQ Y13, Y5, Y5
	VPCMPGTQ Y12, Y4, Y6
	VPCMPGTQ Y4, Y7, Y4
	VPOR Y4, Y6, Y6
	VPCMPGTQ Y12, Y5, Y4
	VPOR Y4, Y6, Y6
	VPCMPGTQ Y5, Y7, Y5
	VPOR Y5, Y6, Y6
	VPTEST Y6, Y6
	JNZ done

	VPSRLQ $45, Y2, Y4
	VPAND Y10, Y4, Y4
	VPADDQ Y11, Y2, Y2
	VPADDQ Y4, Y2, Y2
	VPSRLQ $45, Y2, Y2
	VPSUBQ Y9, Y2, Y2

	VPSRLQ $45, Y3, Y4
	VPAND Y10, Y4, Y4
	VPADDQ Y11, Y3, Y3
	VPADDQ Y4, Y3, Y3
	VPSRLQ $45, Y3, Y3
	VPSUBQ Y9, Y3, Y3

	VPSRLQ $48, Y0, Y0
	VPAND Y8, Y0, Y0
	VPOR Y0, Y2, Y2
	VPSRLQ $48, Y1, Y1
	VPAND Y8, Y1, Y1
	VPOR Y1, Y3, Y3

	// low dword of each qword into the low 128 bits, then to words
	VPSHUFD $0x08, Y2, Y2
	VPERMQ $0x08, Y2, Y2
	VPSHUFD $0x08, Y3, Y3
	VPERMQ $0x08, Y3, Y3
	VPACKUSDW X3, X2, X2
	VMOVDQU X2, (DI)

	ADDQ $64, SI
	ADDQ $16, DI
	ADDQ $8, DX
	SUBQ $8, CX
	JMP loop

done:
	VZEROUPPER
	MOVQ DX, done+24(FP)
	RET

// func bf16ToF16F16C(d *uint16, s *uint16, n int)
// n > 0 is a multiple of 16. Widens to float32 (exact), rounds with
// VCVTPS2PH to nearest even, then replaces NaNs by 0x7E00 with their sign
// (ml_dtypes' canonical NaN; VCVTPS2PH would keep payload bits).
TEXT ·bf16ToF16F16C(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7FFF, AX
	MOVQ AX, X14
	VPBROADCASTW X14, Y14 // magnitude mask
	MOVL $0x7F80, AX
	MOVQ AX, X13
	VPBROADCASTW X13, Y13 // bfloat16 +Inf
	MOVL $0x8000, AX
	MOVQ AX, X12
	VPBROADCASTW X12, Y12 // sign
	MOVL $0x7E00, AX
	MOVQ AX, X11
	VPBROADCASTW X11, Y11 // half quiet NaN

loop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VCVTPS2PH $0, Y0, X2
	VCVTPS2PH $0, Y1, X3
	VINSERTI128 $1, X3, Y2, Y4

	VMOVDQU (SI), Y5
	VPAND Y14, Y5, Y6
	VPCMPGTW Y13, Y6, Y6 // NaN lanes
	VPAND Y12, Y5, Y7
	VPOR Y11, Y7, Y7
	VPBLENDVB Y6, Y7, Y4, Y4
	VMOVDQU Y4, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JNZ loop
	VZEROUPPER
	RET

// func f32ToF16F16C(d *uint16, s *uint32, n int)
// n > 0 is a multiple of 16. VCVTPS2PH rounds to nearest even; NaNs are
// then rewritten as numpy does: sign | 0x7C00 | top ten payload bits, and
// 0x7C01 if those are zero (no quiet bit).
TEXT ·f32ToF16F16C(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7FFFFFFF, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14 // magnitude mask
	MOVL $0x7F800000, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13 // +Inf
	MOVL $0x3FF, AX
	MOVQ AX, X12
	VPBROADCASTD X12, Y12 // half mantissa
	MOVL $0x7C00, AX
	MOVQ AX, X11
	VPBROADCASTD X11, Y11 // half exponent
	MOVL $0x8000, AX
	MOVQ AX, X10
	VPBROADCASTD X10, Y10 // half sign
	MOVL $1, AX
	MOVQ AX, X9
	VPBROADCASTD X9, Y9 // 1
	VPXOR Y8, Y8, Y8

loop:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VCVTPS2PH $0, Y0, X2
	VCVTPS2PH $0, Y1, X3
	VINSERTI128 $1, X3, Y2, Y4 // 16 halves in order

	// numpy's NaN for the first eight (Y5: value, Y6: mask) ...
	VPSRLD $13, Y0, Y5
	VPAND Y12, Y5, Y5
	VPCMPEQD Y8, Y5, Y7
	VPAND Y9, Y7, Y7
	VPOR Y7, Y5, Y5
	VPOR Y11, Y5, Y5
	VPSRLD $16, Y0, Y7
	VPAND Y10, Y7, Y7
	VPOR Y7, Y5, Y5
	VPAND Y14, Y0, Y6
	VPCMPGTD Y13, Y6, Y6

	// ... and the next eight (Y1: value, Y3: mask)
	VPSRLD $13, Y1, Y2
	VPAND Y12, Y2, Y2
	VPCMPEQD Y8, Y2, Y7
	VPAND Y9, Y7, Y7
	VPOR Y7, Y2, Y2
	VPOR Y11, Y2, Y2
	VPSRLD $16, Y1, Y7
	VPAND Y10, Y7, Y7
	VPOR Y7, Y2, Y2
	VPAND Y14, Y1, Y3
	VPCMPGTD Y13, Y3, Y3

	// narrow values and masks to words, in element order
	VPACKUSDW Y2, Y5, Y5
	VPERMQ $0xD8, Y5, Y5
	VPACKSSDW Y3, Y6, Y6
	VPERMQ $0xD8, Y6, Y6
	VPBLENDVB Y6, Y5, Y4, Y4
	VMOVDQU Y4, (DI)

	ADDQ $64, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JNZ loop
	VZEROUPPER
	RET
