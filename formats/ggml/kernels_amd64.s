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
