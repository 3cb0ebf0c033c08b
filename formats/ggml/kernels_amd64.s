#include "textflag.h"

// SSE2 kernels for kernels.go: lane j of every vector is trial j, and each
// lane performs the C's scalar operations in the C's order (MULPS/ADDPS
// round every lane like MULSS/ADDSS; SSE2 has no fused multiply-add).

// nearest_int(v) = (bits(v + 12582912) & 0x7fffff) - 0x400000, per lane.
#define NEAREST(R) \
	ADDPS X3, R \
	PAND  X4, R \
	PSUBL X5, R

// R = min(R, HI) for int32 lanes (SSE2 has no PMINSD); T is scratch.
#define MINL(R, HI, T, U) \
	MOVO    R, T \
	PCMPGTL HI, T \
	MOVO    T, U \
	PAND    HI, U \
	PANDN   R, T \
	POR     U, T \
	MOVO    T, R

// R = max(R, LO) for int32 lanes; T, U scratch.
#define MAXL(R, LO, T, U) \
	MOVO    LO, T \
	PCMPGTL R, T \
	MOVO    T, U \
	PAND    LO, U \
	PANDN   R, T \
	POR     U, T \
	MOVO    T, R

#define CONSTS \
	MOVL   $0x4b400000, AX \
	MOVL   AX, X3 \
	PSHUFL $0, X3, X3 \
	MOVL   $0x007fffff, AX \
	MOVL   AX, X4 \
	PSHUFL $0, X4, X4 \
	MOVL   $0x00400000, AX \
	MOVL   AX, X5 \
	PSHUFL $0, X5, X5

// func qkxSums4SSE(x, xm, w *float32, n int, iscale *[4]float32, nm int32, out *[12]float32)
TEXT ·qkxSums4SSE(SB), NOSPLIT, $0-56
	MOVQ   x+0(FP), SI
	MOVQ   xm+8(FP), DI
	MOVQ   w+16(FP), DX
	MOVQ   n+24(FP), CX
	MOVQ   iscale+32(FP), AX
	MOVUPS (AX), X0
	MOVL   nm+40(FP), AX
	MOVL   AX, X2
	PSHUFL $0, X2, X2
	CONSTS
	PXOR   X6, X6
	PXOR   X7, X7
	PXOR   X8, X8
	PXOR   X9, X9
	TESTQ  CX, CX
	JEQ    sdone

sloop:
	MOVSS  (DI), X10
	SHUFPS $0, X10, X10
	MULPS  X0, X10
	NEAREST(X10)
	MINL(X10, X2, X11, X12)
	MAXL(X10, X6, X11, X12)
	CVTPL2PS X10, X10
	MOVSS  (DX), X11
	SHUFPS $0, X11, X11
	MULPS  X10, X11      // wl = w*l
	ADDPS  X11, X7       // sumL += wl
	MOVAPS X11, X12
	MULPS  X10, X12      // wl*l
	ADDPS  X12, X8
	MOVSS  (SI), X13
	SHUFPS $0, X13, X13
	MULPS  X11, X13      // wl*x
	ADDPS  X13, X9
	ADDQ   $4, SI
	ADDQ   $4, DI
	ADDQ   $4, DX
	DECQ   CX
	JNZ    sloop

sdone:
	MOVQ   out+48(FP), AX
	MOVUPS X7, 0(AX)
	MOVUPS X8, 16(AX)
	MOVUPS X9, 32(AX)
	RET

// func qkxErr4SSE(x, xm, w *float32, n int, iscale, ts, tm *[4]float32, nm int32, mad bool, out *[4]float32)
TEXT ·qkxErr4SSE(SB), NOSPLIT, $0-72
	MOVQ   x+0(FP), SI
	MOVQ   xm+8(FP), DI
	MOVQ   w+16(FP), DX
	MOVQ   n+24(FP), CX
	MOVQ   iscale+32(FP), AX
	MOVUPS (AX), X0
	MOVQ   ts+40(FP), AX
	MOVUPS (AX), X1
	MOVQ   tm+48(FP), AX
	MOVUPS (AX), X14
	MOVL   nm+56(FP), AX
	MOVL   AX, X2
	PSHUFL $0, X2, X2
	CONSTS
	MOVL   $0x7fffffff, AX
	MOVL   AX, X15
	PSHUFL $0, X15, X15
	MOVBLZX mad+60(FP), BX
	PXOR   X6, X6
	PXOR   X8, X8
	TESTQ  CX, CX
	JEQ    edone

eloop:
	MOVSS  (DI), X10
	SHUFPS $0, X10, X10
	MULPS  X0, X10
	NEAREST(X10)
	MINL(X10, X2, X11, X12)
	MAXL(X10, X6, X11, X12)
	CVTPL2PS X10, X10
	MULPS  X1, X10       // ts*l
	ADDPS  X14, X10      // + tm
	MOVSS  (SI), X13
	SHUFPS $0, X13, X13
	SUBPS  X13, X10      // - x
	TESTQ  BX, BX
	JEQ    esq
	ANDPS  X15, X10      // |diff|
	JMP    eacc

esq:
	MULPS  X10, X10      // diff*diff

eacc:
	MOVSS  (DX), X11
	SHUFPS $0, X11, X11
	MULPS  X10, X11      // w*diff
	ADDPS  X11, X8
	ADDQ   $4, SI
	ADDQ   $4, DI
	ADDQ   $4, DX
	DECQ   CX
	JNZ    eloop

edone:
	MOVQ   out+64(FP), AX
	MOVUPS X8, 0(AX)
	RET

// func qxSums4SSE(x, w, wv *float32, n int, iscale *[4]float32, nm int32, out *[8]float32)
TEXT ·qxSums4SSE(SB), NOSPLIT, $0-56
	MOVQ   x+0(FP), SI
	MOVQ   w+8(FP), DX
	MOVQ   wv+16(FP), DI
	MOVQ   n+24(FP), CX
	MOVQ   iscale+32(FP), AX
	MOVUPS (AX), X0
	MOVL   nm+40(FP), AX
	LEAL   -1(AX), BX
	MOVL   BX, X2        // hi = nm-1
	PSHUFL $0, X2, X2
	NEGL   AX
	MOVL   AX, X6        // lo = -nm
	PSHUFL $0, X6, X6
	CONSTS
	PXOR   X7, X7
	PXOR   X8, X8
	TESTQ  CX, CX
	JEQ    qdone

qloop:
	MOVSS  (SI), X10
	SHUFPS $0, X10, X10
	MULPS  X0, X10
	NEAREST(X10)
	MINL(X10, X2, X11, X12)
	MAXL(X10, X6, X11, X12)
	CVTPL2PS X10, X10
	MOVSS  (DI), X11
	SHUFPS $0, X11, X11
	MULPS  X10, X11      // (w*x)*l
	ADDPS  X11, X7
	MOVSS  (DX), X12
	SHUFPS $0, X12, X12
	MULPS  X10, X12      // w*l
	MULPS  X10, X12      // (w*l)*l
	ADDPS  X12, X8
	ADDQ   $4, SI
	ADDQ   $4, DI
	ADDQ   $4, DX
	DECQ   CX
	JNZ    qloop

qdone:
	MOVQ   out+48(FP), AX
	MOVUPS X7, 0(AX)
	MOVUPS X8, 16(AX)
	RET

// Blend helper: M = max(M, A) for non-negative int32 lanes; T, U scratch.
#define MAXU(A, M, T, U) \
	MOVO    A, T \
	PCMPGTL M, T \
	MOVO    A, U \
	PAND    T, U \
	PANDN   M, T \
	POR     U, T \
	MOVO    T, M

// One Q4_0 block as quantize_row_q4_0_ref does it, for a block without
// NaNs (ok = false otherwise, and nothing is written): max is the first
// element of largest magnitude, d = max / -8, id = d ? 1/d : 0, and
// qs[j] = MIN(15, (int8)(x[j]*id + 8.5)) | MIN(15, (int8)(x[j+16]*id + 8.5)) << 4.
//
// func q4_0BlockSSE(x *float32, qs *byte) (d float32, ok bool)
TEXT ·q4_0BlockSSE(SB), NOSPLIT, $0-21
	MOVQ    x+0(FP), SI
	MOVL    $0x7fffffff, AX
	MOVL    AX, X15
	PSHUFL  $0, X15, X15
	MOVL    $0x7f800000, AX
	MOVL    AX, X14
	PSHUFL  $0, X14, X14
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	PAND    X15, X0
	PAND    X15, X1
	PAND    X15, X2
	PAND    X15, X3
	PAND    X15, X4
	PAND    X15, X5
	PAND    X15, X6
	PAND    X15, X7
	// max of the magnitudes' bits, which also exposes NaNs (> 0x7f800000);
	// a tree, to keep the dependency chain short
	MOVO    X0, X8
	MOVO    X2, X9
	MOVO    X4, X10
	MOVO    X6, X11
	MAXU(X1, X8, X12, X13)
	MAXU(X3, X9, X12, X13)
	MAXU(X5, X10, X12, X13)
	MAXU(X7, X11, X12, X13)
	MAXU(X9, X8, X12, X13)
	MAXU(X11, X10, X12, X13)
	MAXU(X10, X8, X12, X13)
	PSHUFL  $0x4e, X8, X11
	MAXU(X11, X8, X9, X10)
	PSHUFL  $0xb1, X8, X11
	MAXU(X11, X8, X9, X10)
	MOVO    X8, X9
	PCMPGTL X14, X9
	MOVMSKPS X9, AX
	TESTL   AX, AX
	JNE     nan
	MOVL    X8, AX
	TESTL   AX, AX
	JEQ     allzero
	// index of the first element with that magnitude
	PCMPEQL X8, X0
	PCMPEQL X8, X1
	PCMPEQL X8, X2
	PCMPEQL X8, X3
	PCMPEQL X8, X4
	PCMPEQL X8, X5
	PCMPEQL X8, X6
	PCMPEQL X8, X7
	PACKSSLW X1, X0           // lanes 0..7 as words
	PACKSSLW X3, X2           // lanes 8..15
	PACKSSWB X2, X0           // lanes 0..15 as bytes
	PACKSSLW X5, X4
	PACKSSLW X7, X6
	PACKSSWB X6, X4           // lanes 16..31
	PMOVMSKB X0, AX
	PMOVMSKB X4, BX
	SHLL    $16, BX
	ORL     BX, AX
	BSFL    AX, AX
	MOVSS   (SI)(AX*4), X0    // max
	JMP     haveMax

allzero:
	XORPS   X0, X0            // max = +0 (C's initial value)

haveMax:
	MOVL    $0xbe000000, AX   // -0.125: x/-8 and x*-0.125 are the same real, so round the same
	MOVL    AX, X1
	MULSS   X1, X0            // d = max / -8
	MOVSS   X0, d+16(FP)
	XORPS   X2, X2
	XORPS   X11, X11          // id = 0
	UCOMISS X2, X0
	JNE     inv
	JPS     inv
	JMP     haveID

inv:
	MOVL    $0x3f800000, AX
	MOVL    AX, X11
	DIVSS   X0, X11           // id = 1/d

haveID:
	SHUFPS  $0, X11, X11
	MOVL    $0x41080000, AX   // 8.5
	MOVL    AX, X12
	PSHUFL  $0, X12, X12
	MOVL    $15, AX
	MOVL    AX, X13
	PSHUFL  $0, X13, X13
	MOVQ    qs+8(FP), DI
	// low nibbles: elements 0..15, high nibbles: 16..31
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	MULPS   X11, X0
	MULPS   X11, X1
	MULPS   X11, X2
	MULPS   X11, X3
	MULPS   X11, X4
	MULPS   X11, X5
	MULPS   X11, X6
	MULPS   X11, X7
	ADDPS   X12, X0
	ADDPS   X12, X1
	ADDPS   X12, X2
	ADDPS   X12, X3
	ADDPS   X12, X4
	ADDPS   X12, X5
	ADDPS   X12, X6
	ADDPS   X12, X7
	CVTTPS2PL X0, X0
	CVTTPS2PL X1, X1
	CVTTPS2PL X2, X2
	CVTTPS2PL X3, X3
	CVTTPS2PL X4, X4
	CVTTPS2PL X5, X5
	CVTTPS2PL X6, X6
	CVTTPS2PL X7, X7
	// (int8) truncation: sign-extend the low byte
	PSLLL   $24, X0
	PSLLL   $24, X1
	PSLLL   $24, X2
	PSLLL   $24, X3
	PSLLL   $24, X4
	PSLLL   $24, X5
	PSLLL   $24, X6
	PSLLL   $24, X7
	PSRAL   $24, X0
	PSRAL   $24, X1
	PSRAL   $24, X2
	PSRAL   $24, X3
	PSRAL   $24, X4
	PSRAL   $24, X5
	PSRAL   $24, X6
	PSRAL   $24, X7
	MINL(X0, X13, X8, X9)
	MINL(X1, X13, X8, X9)
	MINL(X2, X13, X8, X9)
	MINL(X3, X13, X8, X9)
	MINL(X4, X13, X8, X9)
	MINL(X5, X13, X8, X9)
	MINL(X6, X13, X8, X9)
	MINL(X7, X13, X8, X9)
	// qs = (uint8)lo | (uint8)(hi << 4)
	MOVL    $0xff, AX
	MOVL    AX, X10
	PSHUFL  $0, X10, X10
	PSLLL   $4, X4
	PSLLL   $4, X5
	PSLLL   $4, X6
	PSLLL   $4, X7
	POR     X4, X0
	POR     X5, X1
	POR     X6, X2
	POR     X7, X3
	PAND    X10, X0
	PAND    X10, X1
	PAND    X10, X2
	PAND    X10, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU   X0, (DI)
	MOVB    $1, ok+20(FP)
	RET

nan:
	MOVB    $0, ok+20(FP)
	RET

// Broadcast a 32-bit constant into X register R (via AX).
#define BCAST(C, R) \
	MOVL   C, AX \
	MOVL   AX, R \
	PSHUFL $0, R, R

// Narrow the uint16 values in the int32 lanes of A and B into eight words in
// A (sign-extend the low halves, then a signed pack, which is then exact).
#define NARROW16(A, B) \
	PSLLL    $16, A \
	PSRAL    $16, A \
	PSLLL    $16, B \
	PSRAL    $16, B \
	PACKSSLW B, A

// ggml_compute_fp32_to_bf16 on 4 lanes: R holds the float bits in, the
// bf16 in the low half of each lane out. Needs X8 = 0x7fffffff,
// X9 = 0x7f800000, X10 = 0x7fff, X11 = 1, X12 = 64; T, U, V scratch.
#define BF16X4(R, T, U, V) \
	MOVO    R, T \
	PAND    X8, T \
	PCMPGTL X9, T \
	MOVO    R, U \
	PSRLL   $16, U \
	MOVO    U, V \
	POR     X12, V \
	PAND    X11, U \
	PADDL   X10, U \
	PADDL   R, U \
	PSRLL   $16, U \
	PAND    T, V \
	PANDN   U, T \
	POR     V, T \
	MOVO    T, R

// func bf16RowSSE(x *float32, y *uint16, n int)  (n a multiple of 8)
TEXT ·bf16RowSSE(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  y+8(FP), DI
	MOVQ  n+16(FP), CX
	BCAST($0x7fffffff, X8)
	BCAST($0x7f800000, X9)
	BCAST($0x7fff, X10)
	BCAST($1, X11)
	BCAST($64, X12)
	SHRQ  $3, CX
	JEQ   bdone

bloop:
	MOVUPS 0(SI), X0
	MOVUPS 16(SI), X1
	BF16X4(X0, X2, X3, X4)
	BF16X4(X1, X2, X3, X4)
	NARROW16(X0, X1)
	MOVOU X0, (DI)
	ADDQ  $32, SI
	ADDQ  $16, DI
	DECQ  CX
	JNZ   bloop

bdone:
	RET

// ggml_compute_fp32_to_fp16 on 4 lanes (R: float bits in, half in the low
// half of each lane out). Needs X8 = 0x7fffffff, X9 = 2^112, X10 = 2^-110,
// X11 = 0x80000000, X12 = 0x71000000^0x80000000, X13 = 0x07800000,
// X14 = 0xff000000^0x80000000, X15 = 0x7c00; T, U, V, W, Y scratch.
#define F16X4(R, T, U, V, W, Y) \
	MOVO    R, T \
	PAND    X8, T \
	MULPS   X9, T \
	MULPS   X10, T \
	MOVO    R, U \
	PADDL   R, U \
	MOVO    U, V \
	BCAST($0xff000000, W) \
	PAND    W, V \
	PXOR    X11, V \
	MOVO    X12, W \
	PCMPGTL V, W \
	MOVO    V, Y \
	PXOR    X12, Y \
	PAND    W, Y \
	PXOR    Y, V \
	PXOR    X11, V \
	PSRLL   $1, V \
	PADDL   X13, V \
	ADDPS   V, T \
	MOVO    T, V \
	PSRLL   $13, V \
	PAND    X15, V \
	BCAST($0x0fff, W) \
	PAND    W, T \
	PADDL   V, T \
	PXOR    X11, U \
	PCMPGTL X14, U \
	BCAST($0x7e00, W) \
	PAND    U, W \
	PANDN   T, U \
	POR     W, U \
	PAND    X11, R \
	PSRLL   $16, R \
	POR     U, R

// func f16RowSSE(x *float32, y *uint16, n int)  (n a multiple of 8)
TEXT ·f16RowSSE(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  y+8(FP), DI
	MOVQ  n+16(FP), CX
	BCAST($0x7fffffff, X8)
	BCAST($0x77800000, X9)
	BCAST($0x08800000, X10)
	BCAST($0x80000000, X11)
	BCAST($0xf1000000, X12)
	BCAST($0x07800000, X13)
	BCAST($0x7f000000, X14)
	BCAST($0x7c00, X15)
	SHRQ  $3, CX
	JEQ   fdone

floop:
	MOVUPS 0(SI), X0
	MOVUPS 16(SI), X1
	F16X4(X0, X2, X3, X4, X5, X6)
	F16X4(X1, X2, X3, X4, X5, X6)
	NARROW16(X0, X1)
	MOVOU X0, (DI)
	ADDQ  $32, SI
	ADDQ  $16, DI
	DECQ  CX
	JNZ   floop

fdone:
	RET

// Order-preserving signed key of float bits: k = b ^ ((b >> 31) & 0x7fffffff)
// (X15 = 0x7fffffff); T scratch.
#define FKEY(R, T) \
	MOVO  R, T \
	PSRAL $31, T \
	PAND  X15, T \
	PXOR  T, R

// M = min(M, A) / max(M, A) on signed int32 lanes; T, U scratch.
#define SMIN(A, M, T, U) \
	MOVO    M, T \
	PCMPGTL A, T \
	MOVO    A, U \
	PAND    T, U \
	PANDN   M, T \
	POR     U, T \
	MOVO    T, M

#define SMAX(A, M, T, U) \
	MOVO    A, T \
	PCMPGTL M, T \
	MOVO    A, U \
	PAND    T, U \
	PANDN   M, T \
	POR     U, T \
	MOVO    T, M

// One Q4_1 block as quantize_row_q4_1_ref does it, when the block holds no
// NaN and neither its minimum nor its maximum is a zero (where the C keeps
// the first of +0 and -0): ok = false otherwise, and nothing is written.
// min and max are found on order-preserving integer keys; then
// d = (max - min) / 15, id = d ? 1/d : 0 and
// qs[j] = MIN(15, (int8)((x[j]-min)*id + 0.5)) | MIN(15, (int8)((x[j+16]-min)*id + 0.5)) << 4.
//
// func q4_1BlockSSE(x *float32, qs *byte) (d, min float32, ok bool)
TEXT ·q4_1BlockSSE(SB), NOSPLIT, $0-25
	MOVQ    x+0(FP), SI
	BCAST($0x7fffffff, X15)
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	FKEY(X0, X8)
	FKEY(X1, X8)
	FKEY(X2, X8)
	FKEY(X3, X8)
	FKEY(X4, X8)
	FKEY(X5, X8)
	FKEY(X6, X8)
	FKEY(X7, X8)
	MOVO    X0, X12           // min keys
	MOVO    X0, X13           // max keys
	SMIN(X1, X12, X8, X9)
	SMAX(X1, X13, X8, X9)
	SMIN(X2, X12, X8, X9)
	SMAX(X2, X13, X8, X9)
	SMIN(X3, X12, X8, X9)
	SMAX(X3, X13, X8, X9)
	SMIN(X4, X12, X8, X9)
	SMAX(X4, X13, X8, X9)
	SMIN(X5, X12, X8, X9)
	SMAX(X5, X13, X8, X9)
	SMIN(X6, X12, X8, X9)
	SMAX(X6, X13, X8, X9)
	SMIN(X7, X12, X8, X9)
	SMAX(X7, X13, X8, X9)
	PSHUFL  $0x4e, X12, X10
	SMIN(X10, X12, X8, X9)
	PSHUFL  $0xb1, X12, X10
	SMIN(X10, X12, X8, X9)
	PSHUFL  $0x4e, X13, X10
	SMAX(X10, X13, X8, X9)
	PSHUFL  $0xb1, X13, X10
	SMAX(X10, X13, X8, X9)
	// NaNs have keys past those of the infinities: a positive NaN above
	// key(+Inf) = 0x7f800000, a negative one below key(-Inf) = 0x807fffff;
	// zeros (keys 0 and -1) are left to the scalar loop too
	MOVL    X12, AX
	CMPL    AX, $0x807fffff
	JLT     q41no
	LEAL    1(AX), BX
	CMPL    BX, $1
	JLS     q41no
	MOVL    X13, AX
	CMPL    AX, $0x7f800000
	JGT     q41no
	LEAL    1(AX), BX
	CMPL    BX, $1
	JLS     q41no
	// back from keys to floats (the key map is its own inverse)
	FKEY(X12, X8)
	FKEY(X13, X8)
	MOVSS   X12, min+20(FP)
	MOVAPS  X13, X0
	SUBSS   X12, X0           // max - min
	BCAST($0x41700000, X1)    // 15.0
	DIVSS   X1, X0            // d
	MOVSS   X0, d+16(FP)
	XORPS   X2, X2
	XORPS   X11, X11
	UCOMISS X2, X0
	JNE     q41inv
	JPS     q41inv
	JMP     q41id

q41inv:
	BCAST($0x3f800000, X11)
	DIVSS   X0, X11

q41id:
	SHUFPS  $0, X11, X11      // id
	SHUFPS  $0, X12, X12      // min
	BCAST($0x3f000000, X14)   // 0.5
	BCAST($15, X13)
	MOVQ    qs+8(FP), DI
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	SUBPS   X12, X0
	SUBPS   X12, X1
	SUBPS   X12, X2
	SUBPS   X12, X3
	SUBPS   X12, X4
	SUBPS   X12, X5
	SUBPS   X12, X6
	SUBPS   X12, X7
	MULPS   X11, X0
	MULPS   X11, X1
	MULPS   X11, X2
	MULPS   X11, X3
	MULPS   X11, X4
	MULPS   X11, X5
	MULPS   X11, X6
	MULPS   X11, X7
	ADDPS   X14, X0
	ADDPS   X14, X1
	ADDPS   X14, X2
	ADDPS   X14, X3
	ADDPS   X14, X4
	ADDPS   X14, X5
	ADDPS   X14, X6
	ADDPS   X14, X7
	CVTTPS2PL X0, X0
	CVTTPS2PL X1, X1
	CVTTPS2PL X2, X2
	CVTTPS2PL X3, X3
	CVTTPS2PL X4, X4
	CVTTPS2PL X5, X5
	CVTTPS2PL X6, X6
	CVTTPS2PL X7, X7
	PSLLL   $24, X0
	PSLLL   $24, X1
	PSLLL   $24, X2
	PSLLL   $24, X3
	PSLLL   $24, X4
	PSLLL   $24, X5
	PSLLL   $24, X6
	PSLLL   $24, X7
	PSRAL   $24, X0
	PSRAL   $24, X1
	PSRAL   $24, X2
	PSRAL   $24, X3
	PSRAL   $24, X4
	PSRAL   $24, X5
	PSRAL   $24, X6
	PSRAL   $24, X7
	MINL(X0, X13, X8, X9)
	MINL(X1, X13, X8, X9)
	MINL(X2, X13, X8, X9)
	MINL(X3, X13, X8, X9)
	MINL(X4, X13, X8, X9)
	MINL(X5, X13, X8, X9)
	MINL(X6, X13, X8, X9)
	MINL(X7, X13, X8, X9)
	BCAST($0xff, X10)
	PSLLL   $4, X4
	PSLLL   $4, X5
	PSLLL   $4, X6
	PSLLL   $4, X7
	POR     X4, X0
	POR     X5, X1
	POR     X6, X2
	POR     X7, X3
	PAND    X10, X0
	PAND    X10, X1
	PAND    X10, X2
	PAND    X10, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU   X0, (DI)
	MOVB    $1, ok+24(FP)
	RET

q41no:
	MOVB    $0, ok+24(FP)
	RET

// The quantization loop of the 5-bit legacy types, for one block of 32:
// q = MIN(maxq, (int8)(((x - sub) * id) + add)) as int8 lanes (maxq = 127
// makes the MIN a no-op, for Q5_1's plain (uint8) conversion); then
// qs[j] = (q[j] & 15) | (q[j+16] & 15) << 4 and bit j of qh = (q[j] >> 4) & 1.
//
// func q5QuantSSE(x *float32, sub, id, add float32, maxq int32, qs *byte) (qh uint32)
TEXT ·q5QuantSSE(SB), NOSPLIT, $0-36
	MOVQ    x+0(FP), SI
	MOVSS   sub+8(FP), X12
	SHUFPS  $0, X12, X12
	MOVSS   id+12(FP), X11
	SHUFPS  $0, X11, X11
	MOVSS   add+16(FP), X14
	SHUFPS  $0, X14, X14
	MOVL    maxq+20(FP), AX
	MOVL    AX, X13
	PSHUFL  $0, X13, X13
	MOVQ    qs+24(FP), DI
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	SUBPS   X12, X0
	SUBPS   X12, X1
	SUBPS   X12, X2
	SUBPS   X12, X3
	SUBPS   X12, X4
	SUBPS   X12, X5
	SUBPS   X12, X6
	SUBPS   X12, X7
	MULPS   X11, X0
	MULPS   X11, X1
	MULPS   X11, X2
	MULPS   X11, X3
	MULPS   X11, X4
	MULPS   X11, X5
	MULPS   X11, X6
	MULPS   X11, X7
	ADDPS   X14, X0
	ADDPS   X14, X1
	ADDPS   X14, X2
	ADDPS   X14, X3
	ADDPS   X14, X4
	ADDPS   X14, X5
	ADDPS   X14, X6
	ADDPS   X14, X7
	CVTTPS2PL X0, X0
	CVTTPS2PL X1, X1
	CVTTPS2PL X2, X2
	CVTTPS2PL X3, X3
	CVTTPS2PL X4, X4
	CVTTPS2PL X5, X5
	CVTTPS2PL X6, X6
	CVTTPS2PL X7, X7
	PSLLL   $24, X0
	PSLLL   $24, X1
	PSLLL   $24, X2
	PSLLL   $24, X3
	PSLLL   $24, X4
	PSLLL   $24, X5
	PSLLL   $24, X6
	PSLLL   $24, X7
	PSRAL   $24, X0
	PSRAL   $24, X1
	PSRAL   $24, X2
	PSRAL   $24, X3
	PSRAL   $24, X4
	PSRAL   $24, X5
	PSRAL   $24, X6
	PSRAL   $24, X7
	MINL(X0, X13, X8, X9)
	MINL(X1, X13, X8, X9)
	MINL(X2, X13, X8, X9)
	MINL(X3, X13, X8, X9)
	MINL(X4, X13, X8, X9)
	MINL(X5, X13, X8, X9)
	MINL(X6, X13, X8, X9)
	MINL(X7, X13, X8, X9)
	// qh: bit 4 of each q, moved to the sign bit and gathered
	MOVO    X0, X8
	PSLLL   $27, X8
	MOVMSKPS X8, AX
	MOVO    X1, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $4, BX
	ORL     BX, AX
	MOVO    X2, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $8, BX
	ORL     BX, AX
	MOVO    X3, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $12, BX
	ORL     BX, AX
	MOVO    X4, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $16, BX
	ORL     BX, AX
	MOVO    X5, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $20, BX
	ORL     BX, AX
	MOVO    X6, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $24, BX
	ORL     BX, AX
	MOVO    X7, X8
	PSLLL   $27, X8
	MOVMSKPS X8, BX
	SHLL    $28, BX
	ORL     BX, AX
	MOVL    AX, qh+32(FP)
	// qs: low nibbles
	BCAST($0x0f, X10)
	PAND    X10, X0
	PAND    X10, X1
	PAND    X10, X2
	PAND    X10, X3
	PAND    X10, X4
	PAND    X10, X5
	PAND    X10, X6
	PAND    X10, X7
	PSLLL   $4, X4
	PSLLL   $4, X5
	PSLLL   $4, X6
	PSLLL   $4, X7
	POR     X4, X0
	POR     X5, X1
	POR     X6, X2
	POR     X7, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU   X0, (DI)
	RET

// ggml_compute_fp16_to_fp32 on 4 lanes: W holds h << 16 in, the float out.
// Needs X8..X13 as set by f16ToF32SSE; T, U, V, M scratch.
#define HALF(W, T, U, V, M) \
	MOVO    W, T \
	PADDL   W, T \
	PAND    X8, W \
	MOVO    T, U \
	PSRLL   $4, U \
	PADDL   X9, U \
	MULPS   X10, U \
	MOVO    T, V \
	PSRLL   $17, V \
	POR     X11, V \
	SUBPS   X12, V \
	PXOR    X8, T \
	MOVO    X13, M \
	PCMPGTL T, M \
	PAND    M, V \
	PANDN   U, M \
	POR     V, M \
	POR     M, W

// ggml_compute_fp16_to_fp32 on 8 halves: eight floats out.
// func f16ToF32SSE(x *uint16, y *float32, n int)  (n a multiple of 8)
TEXT ·f16ToF32SSE(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  y+8(FP), DI
	MOVQ  n+16(FP), CX
	BCAST($0x80000000, X8)
	BCAST($0x70000000, X9)    // exp_offset (0xE0 << 23)
	BCAST($0x07800000, X10)   // 2^-112
	BCAST($0x3f000000, X11)   // magic_mask (126 << 23)
	BCAST($0x3f000000, X12)   // magic_bias 0.5
	BCAST($0x88000000, X13)   // denormalized_cutoff (1 << 27) ^ 0x80000000
	PXOR  X15, X15
	SHRQ  $3, CX
	JEQ   hdone

hloop:
	MOVOU (SI), X0
	MOVO  X15, X1
	PUNPCKLWL X0, X1          // w = h << 16, halves 0..3
	MOVO  X15, X2
	PUNPCKHWL X0, X2          // halves 4..7
	HALF(X1, X3, X4, X5, X6)
	HALF(X2, X3, X4, X5, X6)
	MOVUPS X1, 0(DI)
	MOVUPS X2, 16(DI)
	ADDQ  $16, SI
	ADDQ  $32, DI
	DECQ  CX
	JNZ   hloop

hdone:
	RET

// best_index_mxfp4 for 32 values: lane-wise argmin over the 16 candidates
// ke[i] of |ke[i] - x|, the first index winning ties (strict <), exactly
// the C loop.
// func mxfp4IndexSSE(x *float32, ke *[16]float32, idx *[32]int32)
TEXT ·mxfp4IndexSSE(SB), NOSPLIT, $0-24
	MOVQ  x+0(FP), SI
	MOVQ  ke+8(FP), DX
	MOVQ  idx+16(FP), DI
	BCAST($0x7fffffff, X15)
	MOVQ  $0, R8              // vector index 0..7

mvec:
	MOVQ   R8, AX
	SHLQ   $4, AX
	MOVUPS (SI)(AX*1), X0     // x
	MOVSS  0(DX), X1
	SHUFPS $0, X1, X1
	SUBPS  X0, X1
	ANDPS  X15, X1            // bestErr
	PXOR   X2, X2             // best = 0
	MOVQ   $1, R9

mcand:
	MOVSS  (DX)(R9*4), X3
	SHUFPS $0, X3, X3
	SUBPS  X0, X3
	ANDPS  X15, X3            // err
	MOVAPS X3, X4
	CMPPS  X1, X4, $1         // X4 = err < bestErr
	MOVL   R9, AX
	MOVL   AX, X5
	PSHUFL $0, X5, X5
	MOVO   X4, X6
	PAND   X5, X6             // i where better
	MOVO   X4, X7
	PANDN  X2, X7             // old best elsewhere
	POR    X6, X7
	MOVO   X7, X2
	MOVO   X4, X6
	ANDPS  X3, X6
	ANDNPS X1, X4
	ORPS   X6, X4
	MOVAPS X4, X1
	INCQ   R9
	CMPQ   R9, $16
	JLT    mcand
	MOVQ   R8, AX
	SHLQ   $4, AX
	MOVOU  X2, (DI)(AX*1)
	INCQ   R8
	CMPQ   R8, $8
	JLT    mvec
	RET

// iq4 trial sums, lane j = trial scale id[j]: per element, al = id*x and
// q = the kvalues_iq4nl entry best_index_int8 picks for al (the nearest of
// the two table values around al, the lower on a tie of the C's float
// differences; the table ends outside them), then
// out[j] += (w*q)*x, out[4+j] += (w*q)*q.
// T is the table broadcast: 16 vectors of 4 equal floats.
//
// func iq4Sums4SSE(x, w *float32, n int, id *[4]float32, tab *[64]float32, out *[8]float32)

// lo = T[k] where T[k] <= al (ascending k: the last such is the largest).
#define LOSTEP(OFF) \
	MOVUPS OFF(DX), X5 \
	MOVAPS X5, X6 \
	CMPPS  X1, X6, $2 \
	ANDPS  X6, X5 \
	ANDNPS X2, X6 \
	ORPS   X5, X6 \
	MOVAPS X6, X2

// hi = T[k] where al < T[k] (descending k: the last such is the smallest).
#define HISTEP(OFF) \
	MOVUPS OFF(DX), X5 \
	MOVAPS X1, X6 \
	CMPPS  X5, X6, $1 \
	ANDPS  X6, X5 \
	ANDNPS X3, X6 \
	ORPS   X5, X6 \
	MOVAPS X6, X3

TEXT ·iq4Sums4SSE(SB), NOSPLIT, $0-48
	MOVQ   x+0(FP), SI
	MOVQ   w+8(FP), DI
	MOVQ   n+16(FP), CX
	MOVQ   id+24(FP), AX
	MOVUPS (AX), X0
	MOVQ   tab+32(FP), DX
	PXOR   X7, X7            // sumqx
	PXOR   X8, X8            // sumq2
	TESTQ  CX, CX
	JEQ    idone

iloop:
	MOVSS  (SI), X9
	SHUFPS $0, X9, X9         // x
	MOVAPS X9, X1
	MULPS  X0, X1             // al = id*x
	MOVUPS 0(DX), X2          // lo = T[0]
	MOVUPS 240(DX), X3        // hi = T[15]
	LOSTEP(16)
	LOSTEP(32)
	LOSTEP(48)
	LOSTEP(64)
	LOSTEP(80)
	LOSTEP(96)
	LOSTEP(112)
	LOSTEP(128)
	LOSTEP(144)
	LOSTEP(160)
	LOSTEP(176)
	LOSTEP(192)
	LOSTEP(208)
	LOSTEP(224)
	HISTEP(224)
	HISTEP(208)
	HISTEP(192)
	HISTEP(176)
	HISTEP(160)
	HISTEP(144)
	HISTEP(128)
	HISTEP(112)
	HISTEP(96)
	HISTEP(80)
	HISTEP(64)
	HISTEP(48)
	HISTEP(32)
	HISTEP(16)
	MOVAPS X1, X4
	SUBPS  X2, X4             // al - lo
	MOVAPS X3, X5
	SUBPS  X1, X5             // hi - al
	CMPPS  X5, X4, $1         // (al - lo) < (hi - al)
	MOVAPS X2, X6
	ANDPS  X4, X6
	ANDNPS X3, X4
	ORPS   X6, X4             // q
	MOVSS  (DI), X10
	SHUFPS $0, X10, X10
	MULPS  X4, X10            // w*q
	MOVAPS X10, X11
	MULPS  X9, X11            // (w*q)*x
	ADDPS  X11, X7
	MULPS  X4, X10            // (w*q)*q
	ADDPS  X10, X8
	ADDQ   $4, SI
	ADDQ   $4, DI
	DECQ   CX
	JNZ    iloop

idone:
	MOVQ   out+40(FP), AX
	MOVUPS X7, 0(AX)
	MOVUPS X8, 16(AX)
	RET

// A = max(A, B) for int32 lanes (SSE2 has no PMAXSD); T is scratch.
#define IMAX(B, A, T) \
	MOVO    A, T \
	PCMPGTL B, T \
	PAND    T, A \
	PANDN   B, T \
	POR     T, A

// One Q8_0 vector: R = (int32)roundf(x[OFF/4 .. +3] * id), rounding half
// away from zero: t = trunc(|v|), plus one where |v| - t >= 0.5 (the
// difference is exact below 2^23 and, non-negative, orders as its bits
// do: > 0x3effffff), then v's sign put back. X3 = id, X14 = 0x3effffff,
// X15 = 0x7fffffff; X9..X11 scratch.
#define Q8(OFF, R) \
	MOVUPS    OFF(SI), R \
	MULPS     X3, R \
	MOVO      R, X9 \
	PSRAL     $31, X9 \
	PAND      X15, R \
	CVTTPS2PL R, X10 \
	CVTPL2PS  X10, X11 \
	SUBPS     X11, R \
	PCMPGTL   X14, R \
	PSUBL     R, X10 \
	PXOR      X9, X10 \
	PSUBL     X9, X10 \
	MOVO      X10, R

// func q8_0BlockSSE(x *float32, qs *byte) (d float32, ok bool)
// quantize_row_q8_0_ref for one block: d = amax/127, id = 1/d (0 when d is
// 0), qs[j] = roundf(x[j]*id). Blocks whose amax is not finite or whose id
// overflows return ok = false without writing, for the scalar code.
TEXT ·q8_0BlockSSE(SB), NOSPLIT, $0-21
	MOVQ    x+0(FP), SI
	MOVQ    qs+8(FP), DI
	MOVL    $0x7fffffff, AX
	MOVL    AX, X15
	PSHUFL  $0, X15, X15
	MOVUPS  0(SI), X0
	MOVUPS  16(SI), X1
	MOVUPS  32(SI), X2
	MOVUPS  48(SI), X3
	MOVUPS  64(SI), X4
	MOVUPS  80(SI), X5
	MOVUPS  96(SI), X6
	MOVUPS  112(SI), X7
	PAND    X15, X0
	PAND    X15, X1
	PAND    X15, X2
	PAND    X15, X3
	PAND    X15, X4
	PAND    X15, X5
	PAND    X15, X6
	PAND    X15, X7
	// the magnitudes' largest bits (signed compares: the top bit is clear)
	IMAX(X1, X0, X8)
	IMAX(X3, X2, X8)
	IMAX(X5, X4, X8)
	IMAX(X7, X6, X8)
	IMAX(X2, X0, X8)
	IMAX(X6, X4, X8)
	IMAX(X4, X0, X8)
	PSHUFL  $0x4e, X0, X9
	IMAX(X9, X0, X8)
	PSHUFL  $0xb1, X0, X9
	IMAX(X9, X0, X8)
	MOVL    X0, AX
	CMPL    AX, $0x7f800000
	JAE     bad                // Inf or NaN
	MOVL    AX, X1
	MOVL    $0x42fe0000, BX    // 127
	MOVL    BX, X2
	DIVSS   X2, X1             // d = amax / 127
	MOVSS   X1, d+16(FP)
	XORPS   X3, X3             // id = 0 when d == 0
	MOVL    X1, CX
	TESTL   CX, CX
	JEQ     haveID
	MOVL    $0x3f800000, BX    // 1
	MOVL    BX, X3
	DIVSS   X1, X3             // id = 1 / d
	MOVL    X3, CX
	CMPL    CX, $0x7f800000
	JAE     bad                // id overflowed (d subnormal)

haveID:
	PSHUFL  $0, X3, X3
	MOVL    $0x3effffff, AX
	MOVL    AX, X14
	PSHUFL  $0, X14, X14
	Q8(0, X0)
	Q8(16, X1)
	Q8(32, X2)
	Q8(48, X4)
	Q8(64, X5)
	Q8(80, X6)
	Q8(96, X7)
	Q8(112, X8)
	PACKSSLW X1, X0
	PACKSSLW X4, X2
	PACKSSWB X2, X0
	PACKSSLW X6, X5
	PACKSSLW X8, X7
	PACKSSWB X7, X5
	MOVUPS  X0, 0(DI)
	MOVUPS  X5, 16(DI)
	MOVB    $1, ok+20(FP)
	RET

bad:
	MOVL    $0, d+16(FP)
	MOVB    $0, ok+20(FP)
	RET
