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

// make_qkx{2,3}_quants for eight groups at once: lane g is group g, and
// runs the C's whole sequence for it (min/max and weight sums, the initial
// error, then every trial is = 0..nstep in order, each judged against that
// lane's running best and moving that lane's min when taken). Nothing is
// speculative and every lane's sums are sequential, in the C's order.
// x and w are transposed: element i of group g at [8*i+g]. st (qkxGroups8)
// holds the lanes' state; on return min0, min, scale, flat and the levels
// lt (of the last accepted trial, 0 for flat groups) are the results.
//
// st offsets: min0 0, min 32, max 64, sumW 96, sumX 128, bestErr 160,
// scale 192, bisc 224, bmin 256, flat 288, lt 320, lv 1344.

// Y dst = levels clamp(nearest_int(isc*(x - min)), 0, nm) as floats, for
// the x vector in X; needs Y10..Y14 as set up below.
#define QKXLEVEL(X, ISC, MIN, DST) \
	VSUBPS    MIN, X, DST \
	VMULPS    ISC, DST, DST \
	VADDPS    Y10, DST, DST \
	VPAND     Y11, DST, DST \
	VPSUBD    Y12, DST, DST \
	VPMINSD   Y13, DST, DST \
	VPMAXSD   Y14, DST, DST

// func qkxGroups8AVX2(xt, wt *float32, n int, num *float32, nstep int, nmax float32, nm int32, mad, qkx3 bool, st *qkxGroups8)
TEXT ·qkxGroups8AVX2(SB), NOSPLIT, $0-64
	MOVQ    xt+0(FP), SI
	MOVQ    wt+8(FP), DX
	MOVQ    n+16(FP), CX
	MOVQ    st+56(FP), BX
	MOVBLZX mad+48(FP), R10
	YBCAST($0x4b400000, Y10)
	YBCAST($0x007fffff, Y11)
	YBCAST($0x00400000, Y12)
	MOVL    nm+44(FP), AX
	VMOVD   AX, X13
	VPBROADCASTD X13, Y13
	VPXOR   Y14, Y14, Y14
	YBCAST($0x7fffffff, Y15)

	// min, max, sum_w, sum_x
	VMOVUPS (SI), Y1              // min = x[0]
	VMOVAPS Y1, Y2                // max
	VMOVUPS (DX), Y3              // sum_w = w[0]
	VMULPS  Y1, Y3, Y4            // sum_x = sum_w*x[0]
	LEAQ    32(SI), R8
	LEAQ    32(DX), R9
	DECQ    CX
	JLE     g8mm

g8first:
	VMOVUPS (R8), Y5
	VMINPS  Y1, Y5, Y1            // x < min ? x : min
	VMAXPS  Y2, Y5, Y2            // x > max ? x : max
	VMOVUPS (R9), Y6
	VADDPS  Y6, Y3, Y3            // sum_w += w
	VMULPS  Y5, Y6, Y6            // w*x
	VADDPS  Y6, Y4, Y4            // sum_x += w*x
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     g8first

g8mm:
	VMINPS  Y1, Y14, Y1           // min > 0 ? 0 : min
	VMOVUPS Y1, 0(BX)
	VMOVUPS Y1, 32(BX)
	VMOVUPS Y2, 64(BX)
	VMOVUPS Y3, 96(BX)
	VMOVUPS Y4, 128(BX)
	MOVBLZX qkx3+49(FP), AX
	TESTL   AX, AX
	JNE     g8flat3
	VCMPPS  $0, Y1, Y2, Y5        // max == min
	JMP     g8flat

g8flat3:
	VCMPPS  $2, Y1, Y2, Y5        // max <= min

g8flat:
	VMOVUPS Y5, 288(BX)

	// the initial levels and error: iscale = nmax/(max - min), scale = 1/iscale
	VSUBPS  Y1, Y2, Y6
	VBROADCASTSS nmax+40(FP), Y0
	VDIVPS  Y6, Y0, Y0
	MOVL    $0x3f800000, AX
	VMOVD   AX, X7
	VPBROADCASTD X7, Y7
	VDIVPS  Y0, Y7, Y8            // scale
	VMOVUPS Y8, 192(BX)
	VMOVUPS Y0, 224(BX)
	VMOVUPS Y1, 256(BX)
	VPXOR   Y2, Y2, Y2
	MOVQ    xt+0(FP), SI
	MOVQ    wt+8(FP), DX
	MOVQ    n+16(FP), CX

g8init:
	VMOVUPS (SI), Y5
	QKXLEVEL(Y5, Y0, Y1, Y6)
	VCVTDQ2PS Y6, Y6              // l
	VMULPS  Y6, Y8, Y6            // scale*l
	VADDPS  Y1, Y6, Y6            // + min
	VSUBPS  Y5, Y6, Y6            // - x
	TESTQ   R10, R10
	JEQ     g8isq
	VANDPS  Y15, Y6, Y6
	JMP     g8iacc

g8isq:
	VMULPS  Y6, Y6, Y6

g8iacc:
	VMULPS  (DX), Y6, Y6          // w*diff
	VADDPS  Y6, Y2, Y2
	ADDQ    $32, SI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     g8init
	VMOVUPS Y2, 160(BX)

	// the trials
	XORQ    R11, R11
	MOVQ    num+24(FP), R12
	MOVQ    n+16(FP), R13
	SHLQ    $5, R13
	MOVQ    xt+0(FP), SI
	MOVQ    wt+8(FP), DX
	LEAQ    1344(BX), R8
	ADDQ    R13, SI
	ADDQ    R13, DX
	ADDQ    R13, R8
	NEGQ    R13

g8trial:
	VBROADCASTSS (R12)(R11*4), Y0
	VMOVUPS 32(BX), Y1            // min
	VMOVUPS 64(BX), Y5
	VSUBPS  Y1, Y5, Y5            // max - min
	VDIVPS  Y5, Y0, Y0            // iscale
	VPXOR   Y2, Y2, Y2            // sum_l
	VPXOR   Y3, Y3, Y3            // sum_l2
	VPXOR   Y4, Y4, Y4            // sum_xl
	// SI, DX, R8 point past the ends of x, w and the levels; AX runs
	// from -32n up to 0
	MOVQ    R13, AX

g8sum:
	VMOVUPS (SI)(AX*1), Y5        // x
	QKXLEVEL(Y5, Y0, Y1, Y6)
	VCVTDQ2PS Y6, Y6              // l
	VMOVUPS Y6, (R8)(AX*1)
	VMULPS  (DX)(AX*1), Y6, Y7    // w*l
	VADDPS  Y7, Y2, Y2
	VMULPS  Y6, Y7, Y6            // (w*l)*l
	VADDPS  Y6, Y3, Y3
	VMULPS  Y5, Y7, Y7            // (w*l)*x
	VADDPS  Y7, Y4, Y4
	ADDQ    $32, AX
	JNZ     g8sum

	// the fit
	VMULPS  96(BX), Y3, Y5        // sum_w*sum_l2
	VMULPS  Y2, Y2, Y6            // sum_l*sum_l
	VSUBPS  Y6, Y5, Y5            // D
	VCMPPS  $1, Y5, Y14, Y9       // D > 0
	VMULPS  96(BX), Y4, Y6        // sum_w*sum_xl
	VMULPS  128(BX), Y2, Y7       // sum_x*sum_l
	VSUBPS  Y7, Y6, Y6
	VDIVPS  Y5, Y6, Y6            // this_scale
	VMULPS  128(BX), Y3, Y7       // sum_l2*sum_x
	VMULPS  Y4, Y2, Y8            // sum_l*sum_xl
	VSUBPS  Y8, Y7, Y7
	VDIVPS  Y5, Y7, Y7            // this_min
	VCMPPS  $1, Y7, Y14, Y8       // this_min > 0
	VANDNPS Y7, Y8, Y7            // → 0
	VDIVPS  Y3, Y4, Y5            // sum_xl/sum_l2
	VBLENDVPS Y8, Y5, Y6, Y6      // → this_scale

	// cur_error
	VPXOR   Y2, Y2, Y2
	MOVQ    R13, AX
	TESTQ   R10, R10
	JEQ     g8esq

g8eabs:
	VMULPS  (R8)(AX*1), Y6, Y3    // this_scale*l
	VADDPS  Y7, Y3, Y3            // + this_min
	VSUBPS  (SI)(AX*1), Y3, Y3    // - x
	VANDPS  Y15, Y3, Y3           // fabsf
	VMULPS  (DX)(AX*1), Y3, Y3    // w*diff
	VADDPS  Y3, Y2, Y2
	ADDQ    $32, AX
	JNZ     g8eabs
	JMP     g8take

g8esq:
	VMULPS  (R8)(AX*1), Y6, Y3
	VADDPS  Y7, Y3, Y3
	VSUBPS  (SI)(AX*1), Y3, Y3
	VMULPS  Y3, Y3, Y3            // diff*diff
	VMULPS  (DX)(AX*1), Y3, Y3
	VADDPS  Y3, Y2, Y2
	ADDQ    $32, AX
	JNZ     g8esq

g8take:
	// D > 0 && cur_error < best_error: take the trial
	VMOVUPS 160(BX), Y3
	VCMPPS  $1, Y3, Y2, Y4        // cur_error < best_error
	VANDPS  Y9, Y4, Y4
	VBLENDVPS Y4, Y2, Y3, Y3
	VMOVUPS Y3, 160(BX)
	VMOVUPS 192(BX), Y5
	VBLENDVPS Y4, Y6, Y5, Y5
	VMOVUPS Y5, 192(BX)           // scale = this_scale
	VMOVUPS 224(BX), Y5
	VBLENDVPS Y4, Y0, Y5, Y5
	VMOVUPS Y5, 224(BX)           // the levels' iscale
	VMOVUPS 256(BX), Y5
	VBLENDVPS Y4, Y1, Y5, Y5
	VMOVUPS Y5, 256(BX)           // and min
	VBLENDVPS Y4, Y7, Y1, Y1
	VMOVUPS Y1, 32(BX)            // min = this_min
	INCQ    R11
	CMPQ    R11, nstep+32(FP)
	JLE     g8trial

	// the levels of the last accepted trial (0 for flat groups)
	VMOVUPS 224(BX), Y0
	VMOVUPS 256(BX), Y1
	VMOVUPS 288(BX), Y9
	MOVQ    xt+0(FP), SI
	LEAQ    320(BX), R8
	MOVQ    n+16(FP), CX

g8lv:
	VMOVUPS (SI), Y5
	QKXLEVEL(Y5, Y0, Y1, Y6)
	VPANDN  Y6, Y9, Y6
	VMOVDQU Y6, (R8)
	ADDQ    $32, SI
	ADDQ    $32, R8
	DECQ    CX
	JNZ     g8lv
	VZEROUPPER
	RET

// make_qx_quants (rmse_type 1) for eight groups at once, lane g being
// group g and running the C's sequence for it: max (the first element of
// largest magnitude), w = qw or x*x, the initial sums at -nmax/max, then
// the 18 trials in order, each judged against the lane's best. x and w are
// transposed ([8*i+g]); with sq the kernel forms w = x*x into wt itself.
// num holds -nmax then the trials' -(nmax + 0.1*is).
//
// st (qxGroups8) offsets: scale 0, bis 32, max 64, flat 96, lt 128,
// wv 1152.

// DST = clamp(nearest_int(IS*X), -nm, nm-1) as floats; needs Y10..Y14.
#define QXLEVEL(X, IS, DST) \
	VMULPS    IS, X, DST \
	VADDPS    Y10, DST, DST \
	VPAND     Y11, DST, DST \
	VPSUBD    Y12, DST, DST \
	VPMINSD   Y13, DST, DST \
	VPMAXSD   Y14, DST, DST

// func qxGroups8AVX2(xt, wt *float32, n int, num *[19]float32, nm int32, sq bool, st *qxGroups8)
TEXT ·qxGroups8AVX2(SB), NOSPLIT, $0-48
	MOVQ    xt+0(FP), SI
	MOVQ    wt+8(FP), DX
	MOVQ    n+16(FP), CX
	MOVQ    st+40(FP), BX
	LEAQ    1152(BX), DI
	MOVBLZX sq+36(FP), R10
	YBCAST($0x7fffffff, Y15)
	VPXOR   Y0, Y0, Y0            // amax
	VPXOR   Y1, Y1, Y1            // max

qxg8a:
	VMOVUPS (SI), Y2              // x
	VANDPS  Y15, Y2, Y3           // ax
	VCMPPS  $1, Y3, Y0, Y4        // amax < ax
	VBLENDVPS Y4, Y3, Y0, Y0
	VBLENDVPS Y4, Y2, Y1, Y1
	TESTQ   R10, R10
	JEQ     qxg8qw
	VMULPS  Y2, Y2, Y5            // w = x*x
	VMOVUPS Y5, (DX)
	JMP     qxg8wv

qxg8qw:
	VMOVUPS (DX), Y5

qxg8wv:
	VMULPS  Y2, Y5, Y5            // w*x
	VMOVUPS Y5, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     qxg8a
	VMOVUPS Y1, 64(BX)
	YBCAST($0x26901d7d, Y2)       // GROUP_MAX_EPS, 1e-15f
	VCMPPS  $1, Y2, Y0, Y2        // amax < GROUP_MAX_EPS
	VMOVUPS Y2, 96(BX)

	YBCAST($0x4b400000, Y10)
	YBCAST($0x007fffff, Y11)
	YBCAST($0x00400000, Y12)
	MOVL    nm+32(FP), AX
	LEAL    -1(AX), R8
	VMOVD   R8, X13
	VPBROADCASTD X13, Y13         // nm-1
	NEGL    AX
	VMOVD   AX, X14
	VPBROADCASTD X14, Y14         // -nm
	VPXOR   Y15, Y15, Y15
	MOVQ    num+24(FP), R12
	XORQ    R11, R11
	// SI, DX, DI point past the ends of x, w and w*x; CX runs from -32n
	// up to 0
	MOVQ    n+16(FP), R13
	SHLQ    $5, R13
	MOVQ    xt+0(FP), SI
	MOVQ    wt+8(FP), DX
	LEAQ    1152(BX), DI
	ADDQ    R13, SI
	ADDQ    R13, DX
	ADDQ    R13, DI
	NEGQ    R13

qxg8trial:
	VBROADCASTSS (R12)(R11*4), Y0
	VDIVPS  64(BX), Y0, Y0        // is
	VPXOR   Y1, Y1, Y1            // sumlx
	VPXOR   Y2, Y2, Y2            // suml2
	MOVQ    R13, CX

qxg8sum:
	VMOVUPS (SI)(CX*1), Y3
	QXLEVEL(Y3, Y0, Y4)
	VCVTDQ2PS Y4, Y4              // l
	VMULPS  (DI)(CX*1), Y4, Y5    // (w*x)*l
	VADDPS  Y5, Y1, Y1
	VMULPS  (DX)(CX*1), Y4, Y5    // w*l
	VMULPS  Y4, Y5, Y5            // (w*l)*l
	VADDPS  Y5, Y2, Y2
	ADDQ    $32, CX
	JNZ     qxg8sum

	VDIVPS  Y2, Y1, Y3            // sumlx/suml2
	TESTQ   R11, R11
	JNE     qxg8judge
	VCMPPS  $4, Y15, Y2, Y4       // suml2 != 0
	VANDPS  Y4, Y3, Y6            // scale
	VMULPS  Y1, Y6, Y7            // best = scale*sumlx
	VMOVAPS Y0, Y8                // bis
	JMP     qxg8next

qxg8judge:
	VCMPPS  $1, Y2, Y15, Y4       // suml2 > 0
	VMULPS  Y1, Y1, Y5            // sumlx*sumlx
	VMULPS  Y2, Y7, Y9            // best*suml2
	VCMPPS  $1, Y5, Y9, Y5        // best*suml2 < sumlx*sumlx
	VANDPS  Y5, Y4, Y4
	VBLENDVPS Y4, Y3, Y6, Y6      // scale = sumlx/suml2
	VMULPS  Y1, Y3, Y3            // scale*sumlx
	VBLENDVPS Y4, Y3, Y7, Y7      // best
	VBLENDVPS Y4, Y0, Y8, Y8      // the levels' is

qxg8next:
	INCQ    R11
	CMPQ    R11, $19
	JLT     qxg8trial

	VMOVUPS 96(BX), Y9            // flat
	VANDNPS Y6, Y9, Y6
	VMOVUPS Y6, 0(BX)
	VMOVUPS Y8, 32(BX)
	MOVL    nm+32(FP), AX
	VMOVD   AX, X7
	VPBROADCASTD X7, Y7
	MOVQ    xt+0(FP), SI
	LEAQ    128(BX), DI
	MOVQ    n+16(FP), CX

qxg8lv:
	VMOVUPS (SI), Y3
	QXLEVEL(Y3, Y8, Y4)
	VPADDD  Y7, Y4, Y4            // + nm
	VPANDN  Y4, Y9, Y4
	VMOVDQU Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     qxg8lv
	VZEROUPPER
	RET

// out[i] = clamp(nearest_int((x[i] + add)/d), lo, hi) + off as bytes, for
// n a multiple of 16: the requantization loops of the K-quants, elementwise
// (x + 0 is x for the rounding: only a -0 turns +0, and both give level 0).
// func levelsDivAVX2(x *float32, n int, add, d float32, lo, hi, off int32, out *byte)
TEXT ·levelsDivAVX2(SB), NOSPLIT, $0-48
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	MOVQ    out+40(FP), DI
	VBROADCASTSS add+16(FP), Y8
	VBROADCASTSS d+20(FP), Y9
	YBCAST($0x4b400000, Y10)
	YBCAST($0x007fffff, Y11)
	YBCAST($0x00400000, Y12)
	MOVL    lo+24(FP), AX
	VMOVD   AX, X13
	VPBROADCASTD X13, Y13
	MOVL    hi+28(FP), AX
	VMOVD   AX, X14
	VPBROADCASTD X14, Y14
	MOVL    off+32(FP), AX
	VMOVD   AX, X15
	VPBROADCASTD X15, Y15
	SHRQ    $4, CX
	JEQ     ldone

lloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VADDPS  Y8, Y0, Y0
	VADDPS  Y8, Y1, Y1
	VDIVPS  Y9, Y0, Y0
	VDIVPS  Y9, Y1, Y1
	VADDPS  Y10, Y0, Y0
	VADDPS  Y10, Y1, Y1
	VPAND   Y11, Y0, Y0
	VPAND   Y11, Y1, Y1
	VPSUBD  Y12, Y0, Y0
	VPSUBD  Y12, Y1, Y1
	VPMINSD Y14, Y0, Y0
	VPMINSD Y14, Y1, Y1
	VPMAXSD Y13, Y0, Y0
	VPMAXSD Y13, Y1, Y1
	VPADDD  Y15, Y0, Y0
	VPADDD  Y15, Y1, Y1
	VPACKSSDW Y1, Y0, Y2          // words 0-3 8-11 | 4-7 12-15
	VPERMQ  $0xd8, Y2, Y2         // words 0..15
	VEXTRACTI128 $1, Y2, X3
	VPACKSSWB X3, X2, X2          // bytes 0..15
	VMOVDQU X2, (DI)
	ADDQ    $64, SI
	ADDQ    $16, DI
	DECQ    CX
	JNZ     lloop

ldone:
	VZEROUPPER
	RET
