// Package cast converts tensor element buffers between dtypes, bit for bit
// as numpy 2.4 and ml_dtypes 0.6.0 do (the libraries torch and JAX users
// check against), except where a choice below says otherwise.
//
// Buffers are little-endian byte slices as they sit in a checkpoint. The
// typed fast paths reinterpret them with unsafe when they are aligned and go
// through an aligned scratch buffer when they are not (an mmap'ed safetensors
// tensor may start at any offset); on a big-endian host every conversion
// returns ErrUnsupported rather than produce wrong bytes.
//
// # Rounding
//
// Every narrowing float conversion rounds to nearest, ties to even, once,
// from the exact source value: F64→F16, F64→BF16 and F64→F8 round once from
// the double, and I64/U64/I32/U32→F32/BF16/F16 round once from the integer.
// Subnormals of source and target are exact.
//
// ml_dtypes itself rounds F64 and integer sources to F32 first when the
// target is one of its types (BF16, the F8 types, F4): for instance
// float64(1+2^-8+2^-30) becomes BF16 1.0 there and 1.0078125 here, and
// int64(2^24+2^16+1) becomes 2^24 there and 2^24+2^17 here. Options.ViaF32
// reproduces that double rounding bit for bit. numpy's own F64→F16 rounds
// once and is matched with or without the option.
//
// # NaN
//
// NaN results follow numpy/ml_dtypes for each pair, sign included:
//   - F32→F16 and F64→F16 (numpy's software conversion) keep the sign and the
//     top payload bits without setting the quiet bit; a payload that
//     truncates to zero becomes 1 (0x7C01), so a NaN stays a NaN.
//   - F16→F32 and F16→F64 keep the payload without quieting; BF16→F32 is a
//     16-bit shift.
//   - F32→F64, F64→F32 and BF16→F64 behave like the x86 instructions numpy
//     uses: quiet bit set, payload kept (shifted or truncated).
//   - Every other pair yields the target's canonical quiet NaN with the
//     source's sign: BF16 0x7FC0, F16 0x7E00, F32 0x7FC00000,
//     F64 0x7FF8000000000000, F8_E4M3 0x7F, F8_E5M2 0x7E (0x80 set for a
//     negative NaN). F8_E4M3FNUZ and F8_E5M2FNUZ have a single NaN, 0x80,
//     which decodes as a negative NaN; F8_E8M0's NaN is 0xFF and decodes as
//     a positive NaN.
//
// # Overflow and Options.Saturate
//
// By default overflow follows ml_dtypes: a finite value that rounds past the
// largest finite value becomes ±Inf where the target has infinities (F16,
// BF16, F32, F8_E5M2) and NaN where it has none (F8_E4M3 and both FNUZ types:
// 0x7F/0xFF, 0x80); ±Inf input likewise becomes NaN for those types.
// F8_E8M0 has no sign, zero or infinity: zero, negative values, ±Inf and
// overflow give its NaN (0xFF), values up to 2^-127 give 2^-127 (0x00), and
// values strictly between 2^-127 and 2^-126 give 2^-126 (0x01) whatever
// their distance, as ml_dtypes does (it rounds F32 subnormals up there);
// elsewhere ties round up, to the larger power of two.
//
// With Saturate every float target behaves like NVIDIA's satfinite
// conversions (__NV_SATFINITE, cvt.satfinite) and like the usual
// clamp(-max, max) before a torch cast: any value whose magnitude exceeds the
// largest finite value, ±Inf included, becomes ±max (448 for F8_E4M3, 57344
// for F8_E5M2, 65504 for F16 ...), even in a widening conversion (BF16 +Inf
// to F32 gives MaxFloat32): with Saturate no result is infinite. NaN stays
// NaN. We chose Inf→±max rather
// than Inf→NaN for F8_E4M3 so that a saturating conversion never makes a
// NaN out of a number and never yields an infinity. For F8_E8M0 Saturate
// turns values above 2^127 (and +Inf) into 2^127 (0xFE).
//
// # Integers and booleans
//
// Integer→integer conversions wrap (two's complement truncation), exactly
// as numpy's astype. Float→integer conversions truncate toward zero, as
// numpy does for values in range; for NaN and out-of-range values, where
// numpy's result depends on the platform, mlmf saturates: NaN→0, values below
// the target's minimum → minimum, above its maximum → maximum (so -1.5→U8
// gives 0, 300.0→I8 gives 127). BOOL targets get 1 for every nonzero source
// value, NaN included (numpy: NaN is truthy); BOOL sources read any nonzero
// byte as 1.
//
// # Sub-byte types
//
// F4 (OCP MX e2m1, ml_dtypes float4_e2m1fn) converts both ways with every
// other supported type. A buffer holds two elements a byte, element 2i in
// the low nibble of byte i and element 2i+1 in the high nibble: the layout
// of torch's float4_e2m1fn_x2, which is what safetensors' F4 maps to. An F4
// buffer therefore holds an even number of elements; converting an odd count
// into F4 is a length error. F4 has neither Inf nor NaN: overflow and ±Inf
// give ±6 with or without Saturate (ml_dtypes saturates too), and NaN gives
// the zero of the opposite sign, bit for bit what ml_dtypes produces.
//
// F6_E2M3 and F6_E3M2 are packed four elements in three bytes in
// safetensors, but neither the safetensors specification nor torch fixes
// the bit order, so they are raw-only here: Supported reports false and
// Convert returns ErrUnsupported. Same-type conversions of every supported
// type copy the bytes unchanged.
//
// # Speed
//
// On amd64 CPUs with AVX2, F32→BF16, BF16→F32 and F64→BF16 use AVX2
// kernels, and F32→F16 and BF16→F16 use F16C's VCVTPS2PH with NaNs
// rewritten to numpy's rules; elsewhere the scalar loops run, and tests
// compare both on every input class. Other F16 and BF16 sources go through
// 64K-entry tables
// and 8-bit sources through 256-entry tables built once on first use;
// F32 and F64 to the 8-bit types use a 128K-entry table indexed by the top
// 16 bits of the float32 and a sticky bit; F64 to BF16, F16 and the 8-bit
// types round to float32 by round-to-odd first, which keeps the single
// rounding exact. Nothing allocates per element.
package cast
