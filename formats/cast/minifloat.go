package cast

import (
	"math"
	"math/bits"

	"mlmf/formats"
)

// mfKind says how a small float format spends its special encodings.
type mfKind uint8

const (
	mfIEEE mfKind = iota // all-ones exponent: Inf (mantissa 0) and NaN
	mfFN                 // no Inf; NaN only at all-ones exponent and mantissa
	mfFNUZ               // no Inf, no negative zero; NaN is the -0 pattern 0x80
	mfE8M0               // unsigned powers of two; 0xFF is NaN
)

// mini describes a float format narrower than float64 by its field widths.
type mini struct {
	ebits, mbits uint
	bias         int
	kind         mfKind
}

var (
	fmtF32     = mini{8, 23, 127, mfIEEE}
	fmtF16     = mini{5, 10, 15, mfIEEE}
	fmtBF16    = mini{8, 7, 127, mfIEEE}
	fmtE4M3    = mini{4, 3, 7, mfFN}
	fmtE5M2    = mini{5, 2, 15, mfIEEE}
	fmtE4M3Z   = mini{4, 3, 8, mfFNUZ}
	fmtE5M2Z   = mini{5, 2, 16, mfFNUZ}
	fmtE8M0    = mini{8, 0, 127, mfE8M0}
	miniFormat = map[formats.DType]*mini{
		formats.F32:         &fmtF32,
		formats.F16:         &fmtF16,
		formats.BF16:        &fmtBF16,
		formats.F8_E4M3:     &fmtE4M3,
		formats.F8_E5M2:     &fmtE5M2,
		formats.F8_E4M3FNUZ: &fmtE4M3Z,
		formats.F8_E5M2FNUZ: &fmtE5M2Z,
		formats.F8_E8M0:     &fmtE8M0,
	}
)

func (f *mini) width() uint      { return f.ebits + f.mbits + 1 }
func (f *mini) signBit() uint64  { return 1 << (f.ebits + f.mbits) }
func (f *mini) expOnes() uint64  { return (1<<f.ebits - 1) << f.mbits }
func (f *mini) manMask() uint64  { return 1<<f.mbits - 1 }
func (f *mini) infCode() uint64  { return f.expOnes() } // mfIEEE only
func (f *mini) quietBit() uint64 { return 1 << (f.mbits - 1) }

// maxFinite is the code of the largest finite positive value.
func (f *mini) maxFinite() uint64 {
	switch f.kind {
	case mfFN:
		return f.expOnes() | f.manMask() - 1
	case mfFNUZ:
		return f.signBit() - 1
	case mfE8M0:
		return 0xFE
	default:
		return f.expOnes() - 1
	}
}

// nan returns the canonical quiet NaN with the given sign (0 or 1).
func (f *mini) nan(sign uint64) uint64 {
	switch f.kind {
	case mfFN:
		return sign<<(f.ebits+f.mbits) | f.expOnes() | f.manMask()
	case mfFNUZ:
		return 0x80
	case mfE8M0:
		return 0xFF
	default:
		return sign<<(f.ebits+f.mbits) | f.expOnes() | f.quietBit()
	}
}

// nanMode says what a NaN becomes in a given (source, target) pair.
type nanMode uint8

const (
	nanCanonical nanMode = iota // target's quiet NaN, source sign
	nanPayload                  // sign and top payload bits, not quieted (numpy's software half casts)
	nanQuiet                    // sign, top payload bits, quiet bit set (x86 cvtss2sd/cvtsd2ss)
)

// nanModeFor returns numpy/ml_dtypes' NaN behaviour for the pair.
func nanModeFor(src, dst formats.DType) nanMode {
	switch dst {
	case formats.F64:
		switch src {
		case formats.F32, formats.BF16:
			return nanQuiet
		case formats.F16, formats.F64:
			return nanPayload
		}
	case formats.F32:
		switch src {
		case formats.F64:
			return nanQuiet
		case formats.F16, formats.BF16, formats.F32:
			return nanPayload
		}
	case formats.F16:
		switch src {
		case formats.F32, formats.F64, formats.F16:
			return nanPayload
		}
	}
	return nanCanonical
}

// encodeNaN encodes the float64 NaN b (payload left-aligned in its 52
// mantissa bits) into f under mode.
func (f *mini) encodeNaN(b uint64, mode nanMode) uint64 {
	sign := b >> 63
	if mode == nanCanonical || f.kind != mfIEEE {
		return f.nan(sign)
	}
	top := (b & (1<<52 - 1)) >> (52 - f.mbits)
	if mode == nanQuiet {
		top |= f.quietBit()
	}
	if top == 0 {
		top = 1
	}
	return sign<<(f.ebits+f.mbits) | f.expOnes() | top
}

// encode rounds the non-NaN float64 with bits b to f, to nearest even, once.
func (f *mini) encode(b uint64, sat bool) uint64 {
	if f.kind == mfE8M0 {
		return encodeE8M0(b, sat)
	}
	sign := b >> 63
	a := b &^ (1 << 63)
	sbit := sign << (f.ebits + f.mbits)
	if a >= 0x7FF0000000000000 { // ±Inf (NaN is the caller's)
		switch {
		case sat:
			return sbit | f.maxFinite()
		case f.kind == mfIEEE:
			return sbit | f.infCode()
		default:
			return f.nan(sign)
		}
	}
	if a == 0 {
		if f.kind == mfFNUZ {
			return 0
		}
		return sbit
	}
	e := int(a >> 52)
	m := a & (1<<52 - 1)
	if e == 0 { // float64 subnormal: normalise so that bit 52 is set
		lz := bits.LeadingZeros64(m) - 11
		m <<= uint(lz)
		e = 1 - lz
	} else {
		m |= 1 << 52
	}
	exp := e - 1023 // value = m * 2^(exp-52)
	emin := 1 - f.bias
	if exp > f.bias+2 { // far beyond any finite value of f
		return f.overflow(sign, sat)
	}
	q := exp
	if q < emin {
		q = emin
	}
	q -= int(f.mbits) // quantum exponent of the result
	shift := q - (exp - 52)
	var r uint64
	if shift < 64 {
		r = m >> uint(shift)
		rem := m & (1<<uint(shift) - 1)
		half := uint64(1) << uint(shift-1)
		if rem > half || rem == half && r&1 == 1 {
			r++
		}
	}
	var code uint64
	if q == emin-int(f.mbits) {
		code = r // subnormal, or the first normal after a carry
	} else {
		code = uint64(q+int(f.mbits)+f.bias)<<f.mbits + r - 1<<f.mbits
	}
	if code > f.maxFinite() {
		return f.overflow(sign, sat)
	}
	if code == 0 && f.kind == mfFNUZ {
		return 0
	}
	return sbit | code
}

func (f *mini) overflow(sign uint64, sat bool) uint64 {
	sbit := sign << (f.ebits + f.mbits)
	switch {
	case sat:
		return sbit | f.maxFinite()
	case f.kind == mfIEEE:
		return sbit | f.infCode()
	default:
		return f.nan(sign)
	}
}

// encodeE8M0 rounds to the nearest power of two 2^(k-127), k in 0..254,
// ties up, as ml_dtypes' float8_e8m0fnu does.
func encodeE8M0(b uint64, sat bool) uint64 {
	if b>>63 != 0 || b == 0 || b > 0x7FF0000000000000 {
		return 0xFF // negative, ±0, NaN
	}
	if b == 0x7FF0000000000000 {
		if sat {
			return 0xFE
		}
		return 0xFF
	}
	e := int(b >> 52)
	if e == 0 {
		return 0 // float64 subnormals are far below 2^-127
	}
	k := e - 1023
	if b&(1<<51) != 0 { // mantissa >= 1.5: round up (ties up)
		k++
	}
	switch {
	case k < -127:
		return 0
	case k == -127 && b > 0x3800000000000000:
		// ml_dtypes reads values in (2^-127, 2^-126), which are F32
		// subnormals, as 2^-126; we match it.
		return 1
	case k > 127:
		if sat {
			return 0xFE
		}
		return 0xFF
	}
	return uint64(k + 127)
}

// decode returns the float64 bits of code c of f; a NaN keeps its sign and
// its payload, left-aligned and not quieted.
func (f *mini) decode(c uint64) uint64 {
	if f.kind == mfE8M0 {
		if c == 0xFF {
			return 0x7FF8000000000000
		}
		return math.Float64bits(math.Ldexp(1, int(c)-127))
	}
	sign := c >> (f.ebits + f.mbits) & 1
	mag := c &^ (sign << (f.ebits + f.mbits))
	switch f.kind {
	case mfFNUZ:
		if c == 0x80 {
			return 0xFFF8000000000000
		}
	case mfFN:
		if mag == f.expOnes()|f.manMask() {
			return sign<<63 | 0x7FF8000000000000
		}
	case mfIEEE:
		if mag&f.expOnes() == f.expOnes() {
			return sign<<63 | 0x7FF0000000000000 | (mag&f.manMask())<<(52-f.mbits)
		}
	}
	e := int(mag >> f.mbits)
	m := mag & f.manMask()
	var v float64
	if e == 0 {
		v = math.Ldexp(float64(m), 1-f.bias-int(f.mbits))
	} else {
		v = math.Ldexp(float64(m|1<<f.mbits), e-f.bias-int(f.mbits))
	}
	return sign<<63 | math.Float64bits(v)
}
