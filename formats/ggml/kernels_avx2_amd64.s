#include "textflag.h"

// AVX2 kernels for kernels.go (chosen at run time, see kernels_amd64.go).
// As in the SSE2 kernels, lane j of every vector is one trial scale and
// performs the C's scalar operations in the C's order: VMULPS/VADDPS/VSUBPS/
// VDIVPS round every lane like their scalar forms, nothing is fused (no
// VFMADD anywhere) and no sum is ever reduced across lanes.

// Broadcast a 32-bit constant into Y register R (via AX).
#define YBCAST(C, R) \
	MOVL         C, AX \
	VMOVD        AX, X15 \
	VPBROADCASTD X15, R

// func qkxTrials8AVX2(x, xm, w *float32, n int, num *[8]float32, den, sumW, sumX float32, nm int32, mad bool, r *qkxRes8)
//
// Eight make_qkx trials: isc = num/den; per lane the levels
// l = clamp(nearest_int(isc*xm[i]), 0, nm) (kept in the frame, n <= 32) and the sums
// sum_l = Σ w*l, sum_l2 = Σ (w*l)*l, sum_xl = Σ (w*l)*x; then the fit
// (qkxFit) and, when some lane has D > 0, the error Σ w*|ts*l+tm-x| (mad)
// or Σ w*(ts*l+tm-x)².
TEXT ·qkxTrials8AVX2(SB), 0, $1024-72
	MOVQ    x+0(FP), SI
	MOVQ    xm+8(FP), DI
	MOVQ    w+16(FP), DX
	MOVQ    n+24(FP), CX
	MOVQ    num+32(FP), AX
	VMOVUPS (AX), Y0
	VBROADCASTSS den+40(FP), Y9
	VDIVPS  Y9, Y0, Y0            // isc = num / den
	MOVQ    r+64(FP), BX
	VMOVUPS Y0, 0(BX)
	YBCAST($0x4b400000, Y1)       // 12582912
	YBCAST($0x007fffff, Y2)
	YBCAST($0x00400000, Y3)
	MOVL    nm+52(FP), AX
	VMOVD   AX, X4
	VPBROADCASTD X4, Y4
	VPXOR   Y5, Y5, Y5
	VPXOR   Y6, Y6, Y6            // sum_l
	VPXOR   Y7, Y7, Y7            // sum_l2
	VPXOR   Y8, Y8, Y8            // sum_xl
	LEAQ    lv-1024(SP), R8
	MOVQ    CX, R9
	TESTQ   CX, CX
	JEQ     tfit

tsum:
	VBROADCASTSS (DI), Y9
	VMULPS  Y0, Y9, Y9            // isc*xm
	VADDPS  Y1, Y9, Y9
	VPAND   Y2, Y9, Y9
	VPSUBD  Y3, Y9, Y9            // nearest_int
	VPMINSD Y4, Y9, Y9
	VPMAXSD Y5, Y9, Y9
	VCVTDQ2PS Y9, Y9              // l
	VMOVUPS Y9, (R8)
	VBROADCASTSS (DX), Y10
	VMULPS  Y9, Y10, Y10          // wl = w*l
	VADDPS  Y10, Y6, Y6
	VMULPS  Y9, Y10, Y11          // wl*l
	VADDPS  Y11, Y7, Y7
	VBROADCASTSS (SI), Y12
	VMULPS  Y12, Y10, Y12         // wl*x
	VADDPS  Y12, Y8, Y8
	ADDQ    $4, SI
	ADDQ    $4, DI
	ADDQ    $4, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     tsum

tfit:
	VBROADCASTSS sumW+44(FP), Y9
	VBROADCASTSS sumX+48(FP), Y10
	VMULPS  Y7, Y9, Y11           // sum_w*sum_l2
	VMULPS  Y6, Y6, Y12           // sum_l*sum_l
	VSUBPS  Y12, Y11, Y11         // D
	VCMPPS  $1, Y11, Y5, Y12      // 0 < D
	VMOVMSKPS Y12, AX
	MOVL    AX, 128(BX)
	VMULPS  Y8, Y9, Y13           // sum_w*sum_xl
	VMULPS  Y6, Y10, Y14          // sum_x*sum_l
	VSUBPS  Y14, Y13, Y13
	VDIVPS  Y11, Y13, Y13         // this_scale
	VMULPS  Y10, Y7, Y14          // sum_l2*sum_x
	VMULPS  Y8, Y6, Y15           // sum_l*sum_xl
	VSUBPS  Y15, Y14, Y14
	VDIVPS  Y11, Y14, Y14         // this_min
	VCMPPS  $1, Y14, Y5, Y15      // this_min > 0
	VANDNPS Y14, Y15, Y14         // → 0
	VDIVPS  Y7, Y8, Y9            // sum_xl/sum_l2
	VBLENDVPS Y15, Y9, Y13, Y13   // → this_scale
	VMOVUPS Y13, 32(BX)
	VMOVUPS Y14, 64(BX)
	VPXOR   Y6, Y6, Y6            // error
	TESTL   AX, AX
	JEQ     tdone
	MOVQ    x+0(FP), SI
	MOVQ    w+16(FP), DX
	LEAQ    lv-1024(SP), R8
	MOVQ    R9, CX
	TESTQ   CX, CX
	JEQ     tdone
	MOVBLZX mad+56(FP), AX
	TESTL   AX, AX
	JEQ     terrsq
	YBCAST($0x7fffffff, Y1)

terrabs:
	VMULPS  (R8), Y13, Y9         // this_scale*l
	VADDPS  Y14, Y9, Y9           // + this_min
	VBROADCASTSS (SI), Y10
	VSUBPS  Y10, Y9, Y9           // - x
	VANDPS  Y1, Y9, Y9            // fabsf
	VBROADCASTSS (DX), Y10
	VMULPS  Y9, Y10, Y10          // w*diff
	VADDPS  Y10, Y6, Y6
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     terrabs
	JMP     tdone

terrsq:
	VMULPS  (R8), Y13, Y9
	VADDPS  Y14, Y9, Y9
	VBROADCASTSS (SI), Y10
	VSUBPS  Y10, Y9, Y9
	VMULPS  Y9, Y9, Y9            // diff*diff
	VBROADCASTSS (DX), Y10
	VMULPS  Y9, Y10, Y10
	VADDPS  Y10, Y6, Y6
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     terrsq

tdone:
	VMOVUPS Y6, 96(BX)
	VZEROUPPER
	RET

// One group of three vectors of make_qx_quants trials: G is the lane
// group's iscale, A and B its sum_lx and sum_l2. Needs Y9 = x, Y10 = w,
// Y11 = w*x, Y14 = 12582912, Y15 = 0x7fffff, and in r's scratch
// 0x400000 (c+0), nm-1 (c+32), -nm (c+64); Y12, Y13 scratch.
#define QXGROUP(G, A, B) \
	VMULPS  G, Y9, Y12 \
	VADDPS  Y14, Y12, Y12 \
	VPAND   Y15, Y12, Y12 \
	VPSUBD  288(BX), Y12, Y12 \
	VPMINSD 320(BX), Y12, Y12 \
	VPMAXSD 352(BX), Y12, Y12 \
	VCVTDQ2PS Y12, Y12 \
	VMULPS  Y12, Y11, Y13 \
	VADDPS  Y13, A, A \
	VMULPS  Y12, Y10, Y13 \
	VMULPS  Y12, Y13, Y13 \
	VADDPS  Y13, B, B

// func qxTrials24AVX2(x, w, wv *float32, n int, num *[24]float32, max float32, nm int32, r *qxRes24)
//
// 24 make_qx_quants trials: is = num/max; per lane
// l = clamp(nearest_int(is*x[i]), -nm, nm-1), sum_lx = Σ (w*x)*l (wv holds
// w*x) and sum_l2 = Σ (w*l)*l.
TEXT ·qxTrials24AVX2(SB), NOSPLIT, $0-56
	MOVQ    x+0(FP), SI
	MOVQ    w+8(FP), DX
	MOVQ    wv+16(FP), DI
	MOVQ    n+24(FP), CX
	MOVQ    num+32(FP), AX
	MOVQ    r+48(FP), BX
	VBROADCASTSS max+40(FP), Y9
	VMOVUPS 0(AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VDIVPS  Y9, Y0, Y0
	VDIVPS  Y9, Y1, Y1
	VDIVPS  Y9, Y2, Y2
	VMOVUPS Y0, 0(BX)
	VMOVUPS Y1, 32(BX)
	VMOVUPS Y2, 64(BX)
	YBCAST($0x00400000, Y12)
	VMOVDQU Y12, 288(BX)
	MOVL    nm+44(FP), AX
	LEAL    -1(AX), R8
	VMOVD   R8, X12
	VPBROADCASTD X12, Y12
	VMOVDQU Y12, 320(BX)
	NEGL    AX
	VMOVD   AX, X12
	VPBROADCASTD X12, Y12
	VMOVDQU Y12, 352(BX)
	YBCAST($0x4b400000, Y14)
	YBCAST($0x007fffff, Y15)
	VPXOR   Y3, Y3, Y3
	VPXOR   Y4, Y4, Y4
	VPXOR   Y5, Y5, Y5
	VPXOR   Y6, Y6, Y6
	VPXOR   Y7, Y7, Y7
	VPXOR   Y8, Y8, Y8
	TESTQ   CX, CX
	JEQ     qxdone

qxloop:
	VBROADCASTSS (SI), Y9
	VBROADCASTSS (DX), Y10
	VBROADCASTSS (DI), Y11
	QXGROUP(Y0, Y3, Y6)
	QXGROUP(Y1, Y4, Y7)
	QXGROUP(Y2, Y5, Y8)
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $4, DI
	DECQ    CX
	JNZ     qxloop

qxdone:
	VMOVUPS Y3, 96(BX)
	VMOVUPS Y4, 128(BX)
	VMOVUPS Y5, 160(BX)
	VMOVUPS Y6, 192(BX)
	VMOVUPS Y7, 224(BX)
	VMOVUPS Y8, 256(BX)
	VZEROUPPER
	RET
