package cast

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"mlmf/formats"
)

// Options tune conversions; the zero value follows ml_dtypes.
type Options struct {
	// Saturate clamps every value whose magnitude exceeds the target's
	// largest finite value, ±Inf included, to ±max (NVIDIA satfinite);
	// NaN stays NaN. Without it overflow gives ±Inf, or NaN for types
	// without infinities (ml_dtypes).
	Saturate bool
	// ViaF32 rounds F64 and integer sources to F32 before rounding them to
	// BF16 or an F8 type, reproducing ml_dtypes' double rounding bit for
	// bit. Without it they round once, exactly.
	ViaF32 bool
}

// littleEndian is false on big-endian hosts, where Convert refuses to run.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

type class uint8

const (
	clNone class = iota
	clBool
	clInt // signed
	clUint
	clFloat
)

func classOf(d formats.DType) class {
	switch d {
	case formats.BOOL:
		return clBool
	case formats.I8, formats.I16, formats.I32, formats.I64:
		return clInt
	case formats.U8, formats.U16, formats.U32, formats.U64:
		return clUint
	case formats.F16, formats.BF16, formats.F32, formats.F64,
		formats.F8_E4M3, formats.F8_E5M2, formats.F8_E8M0,
		formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ:
		return clFloat
	}
	return clNone
}

// Supported reports whether Convert handles the pair from → to.
func Supported(from, to formats.DType) bool {
	return classOf(from) != clNone && classOf(to) != clNone
}

// elems checks the buffer lengths and returns the element count.
func elems(dst []byte, dt formats.DType, src []byte, st formats.DType) (int, error) {
	if !littleEndian {
		return 0, fmt.Errorf("cast: big-endian host: %w", formats.ErrUnsupported)
	}
	if !Supported(st, dt) {
		return 0, fmt.Errorf("cast: %v to %v: %w", st, dt, formats.ErrUnsupported)
	}
	ss, ds := st.TypeSize(), dt.TypeSize()
	if len(src)%ss != 0 {
		return 0, fmt.Errorf("cast: %d source bytes are not whole %v elements: %w", len(src), st, ErrLength)
	}
	n := len(src) / ss
	if len(dst) != n*ds {
		return 0, fmt.Errorf("cast: %d %v elements need %d destination bytes of %v, got %d: %w",
			n, st, n*ds, dt, len(dst), ErrLength)
	}
	return n, nil
}

// Convert converts the little-endian elements of src (of type srcType) into
// dst (of type dstType). len(dst) must hold exactly as many elements as
// len(src); on a length mismatch or an unsupported pair it returns an error
// and leaves dst untouched. The package documentation gives the semantics.
func Convert(dst []byte, dstType formats.DType, src []byte, srcType formats.DType, opt Options) error {
	n, err := elems(dst, dstType, src, srcType)
	if err != nil {
		return err
	}
	convert(dst, dstType, src, srcType, n, opt)
	return nil
}

// ConvertParallel is Convert split into chunks across up to workers
// goroutines (workers <= 0 means GOMAXPROCS).
func ConvertParallel(dst []byte, dstType formats.DType, src []byte, srcType formats.DType, opt Options, workers int) error {
	n, err := elems(dst, dstType, src, srcType)
	if err != nil {
		return err
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const minChunk = 1 << 16 // elements; smaller chunks cost more than they save
	if w := n / minChunk; w < workers {
		workers = w
	}
	if workers <= 1 {
		convert(dst, dstType, src, srcType, n, opt)
		return nil
	}
	ss, ds := srcType.TypeSize(), dstType.TypeSize()
	chunk := (n + workers - 1) / workers
	chunk = (chunk + 63) &^ 63 // keep chunk starts aligned
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			convert(dst[lo*ds:hi*ds], dstType, src[lo*ss:hi*ss], srcType, hi-lo, opt)
		}(lo, hi)
	}
	wg.Wait()
	return nil
}

// ToFloat32 converts src of type st into dst.
func ToFloat32(dst []float32, src []byte, st formats.DType) error {
	return Convert(f32Bytes(dst), formats.F32, src, st, Options{})
}

// FromFloat32 converts src into dst of type dt.
func FromFloat32(dst []byte, dt formats.DType, src []float32, opt Options) error {
	return Convert(dst, dt, f32Bytes(src), formats.F32, opt)
}

// convert runs one pair on checked buffers of n elements.
func convert(dst []byte, dt formats.DType, src []byte, st formats.DType, n int, opt Options) {
	if n == 0 {
		return
	}
	if st == dt {
		copy(dst, src)
		return
	}
	if fastPath(dst, dt, src, st, opt) {
		return
	}
	generic(dst, dt, src, st, n, opt)
}

// block is the number of elements the generic path converts at a time
// through its stack buffer.
const block = 256

// generic converts any supported pair through float64 or 64-bit integer
// intermediates, a block at a time.
func generic(dst []byte, dt formats.DType, src []byte, st formats.DType, n int, opt Options) {
	sc, dc := classOf(st), classOf(dt)
	ss, ds := st.TypeSize(), dt.TypeSize()
	var buf [block]uint64
	if opt.ViaF32 && dc == clFloat && (dt == formats.BF16 || dt.Bits() == 8) &&
		(st == formats.F64 || (sc == clInt || sc == clUint) && st.Bits() >= 32) {
		// ml_dtypes' route: round to F32 first, then to the target.
		var mid [block * 4]byte
		for lo := 0; lo < n; lo += block {
			hi := min(lo+block, n)
			k := hi - lo
			generic(mid[:k*4], formats.F32, src[lo*ss:hi*ss], st, k, opt)
			generic(dst[lo*ds:hi*ds], dt, mid[:k*4], formats.F32, k, opt)
		}
		return
	}
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		b := buf[:hi-lo]
		s := src[lo*ss : hi*ss]
		d := dst[lo*ds : hi*ds]
		switch {
		case sc == clFloat && dc == clFloat:
			decodeFloat(b, s, st)
			encodeFloat(d, dt, b, nanModeFor(st, dt), opt.Saturate)
		case sc == clFloat:
			decodeFloat(b, s, st)
			floatToInt(d, dt, b)
		case dc == clFloat:
			if dt == formats.F64 {
				intToF64(d, s, st)
				continue
			}
			decodeInt(b, s, st)
			intToOddF64(b, sc == clInt)
			encodeFloat(d, dt, b, nanCanonical, opt.Saturate)
		default:
			decodeInt(b, s, st)
			encodeInt(d, dt, b)
		}
	}
}

// decodeFloat fills b with the float64 bits of each element of s; NaNs keep
// their sign and payload (left-aligned, not quieted).
func decodeFloat(b []uint64, s []byte, st formats.DType) {
	switch st {
	case formats.F64:
		for i := range b {
			b[i] = binary.LittleEndian.Uint64(s[i*8:])
		}
	case formats.F32:
		for i := range b {
			u := binary.LittleEndian.Uint32(s[i*4:])
			b[i] = f32ToF64Bits(u)
		}
	case formats.BF16:
		for i := range b {
			b[i] = f32ToF64Bits(uint32(binary.LittleEndian.Uint16(s[i*2:])) << 16)
		}
	case formats.F16:
		for i := range b {
			b[i] = fmtF16.decode(uint64(binary.LittleEndian.Uint16(s[i*2:])))
		}
	default:
		t := lut8F64(st)
		for i := range b {
			b[i] = t[s[i]]
		}
	}
}

// f32ToF64Bits widens exactly; a NaN keeps its payload and is not quieted.
func f32ToF64Bits(u uint32) uint64 {
	if u&0x7FFFFFFF > 0x7F800000 {
		return uint64(u>>31)<<63 | 0x7FF0000000000000 | uint64(u&0x7FFFFF)<<29
	}
	return math.Float64bits(float64(math.Float32frombits(u)))
}

// encodeFloat writes each float64 of b into d as dt.
func encodeFloat(d []byte, dt formats.DType, b []uint64, mode nanMode, sat bool) {
	if dt == formats.F64 {
		for i, x := range b {
			if x&^(1<<63) > 0x7FF0000000000000 {
				switch mode {
				case nanQuiet:
					x |= 1 << 51
				case nanCanonical:
					x = x&(1<<63) | 0x7FF8000000000000
				}
			}
			binary.LittleEndian.PutUint64(d[i*8:], x)
		}
		return
	}
	f := miniFormat[dt]
	for i, x := range b {
		var c uint64
		if x&^(1<<63) > 0x7FF0000000000000 {
			c = f.encodeNaN(x, mode)
		} else {
			c = f.encode(x, sat)
		}
		switch f.width() {
		case 32:
			binary.LittleEndian.PutUint32(d[i*4:], uint32(c))
		case 16:
			binary.LittleEndian.PutUint16(d[i*2:], uint16(c))
		default:
			d[i] = byte(c)
		}
	}
}

// decodeInt fills b with each integer of s, sign-extended to 64 bits for
// signed types; BOOL reads any nonzero byte as 1.
func decodeInt(b []uint64, s []byte, st formats.DType) {
	switch st {
	case formats.BOOL:
		for i := range b {
			if s[i] != 0 {
				b[i] = 1
			} else {
				b[i] = 0
			}
		}
	case formats.U8:
		for i := range b {
			b[i] = uint64(s[i])
		}
	case formats.I8:
		for i := range b {
			b[i] = uint64(int64(int8(s[i])))
		}
	case formats.U16:
		for i := range b {
			b[i] = uint64(binary.LittleEndian.Uint16(s[i*2:]))
		}
	case formats.I16:
		for i := range b {
			b[i] = uint64(int64(int16(binary.LittleEndian.Uint16(s[i*2:]))))
		}
	case formats.U32:
		for i := range b {
			b[i] = uint64(binary.LittleEndian.Uint32(s[i*4:]))
		}
	case formats.I32:
		for i := range b {
			b[i] = uint64(int64(int32(binary.LittleEndian.Uint32(s[i*4:]))))
		}
	default: // I64, U64
		for i := range b {
			b[i] = binary.LittleEndian.Uint64(s[i*8:])
		}
	}
}

// encodeInt stores each 64-bit integer of b truncated to dt (wrapping, as
// numpy's astype); BOOL gets 1 for nonzero.
func encodeInt(d []byte, dt formats.DType, b []uint64) {
	switch dt {
	case formats.BOOL:
		for i, x := range b {
			if x != 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	case formats.U8, formats.I8:
		for i, x := range b {
			d[i] = byte(x)
		}
	case formats.U16, formats.I16:
		for i, x := range b {
			binary.LittleEndian.PutUint16(d[i*2:], uint16(x))
		}
	case formats.U32, formats.I32:
		for i, x := range b {
			binary.LittleEndian.PutUint32(d[i*4:], uint32(x))
		}
	default:
		for i, x := range b {
			binary.LittleEndian.PutUint64(d[i*8:], x)
		}
	}
}

// intToOddF64 replaces each integer of b by the float64 bits of its value
// rounded to 53 bits by round-to-odd: exact below 2^53, and such that one
// more round-to-nearest-even to 24 bits or fewer equals rounding the integer
// once.
func intToOddF64(b []uint64, signed bool) {
	for i, x := range b {
		neg := false
		if signed && int64(x) < 0 {
			neg = true
			x = -x // two's complement magnitude; 2^63 stays 2^63 as unsigned
		}
		shift := 0
		if x >= 1<<53 {
			for x>>uint(shift) >= 1<<53 {
				shift++
			}
			m := x >> uint(shift)
			if x&(1<<uint(shift)-1) != 0 {
				m |= 1
			}
			x = m
		}
		v := math.Ldexp(float64(x), shift)
		if neg {
			v = -v
		}
		b[i] = math.Float64bits(v)
	}
}

// intToF64 converts integers to F64 with Go's conversions, which round to
// nearest even (exact below 2^53).
func intToF64(d []byte, s []byte, st formats.DType) {
	var b [block]uint64
	n := len(d) / 8
	decodeInt(b[:n], s, st)
	signed := classOf(st) == clInt
	for i, x := range b[:n] {
		var v float64
		if signed {
			v = float64(int64(x))
		} else {
			v = float64(x)
		}
		binary.LittleEndian.PutUint64(d[i*8:], math.Float64bits(v))
	}
}

// floatToInt truncates each float64 of b toward zero into dt, saturating at
// the type's range; NaN gives 0. BOOL gets 1 for any nonzero value or NaN.
func floatToInt(d []byte, dt formats.DType, b []uint64) {
	if dt == formats.BOOL {
		for i, x := range b {
			if x&^(1<<63) != 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
		return
	}
	var lo, hi float64 // inclusive range after truncation
	signed := classOf(dt) == clInt
	bitsN := dt.Bits()
	if signed {
		lo = -math.Ldexp(1, bitsN-1)
		hi = math.Ldexp(1, bitsN-1) // exclusive
	} else {
		hi = math.Ldexp(1, bitsN) // exclusive
	}
	for i, x := range b {
		f := math.Trunc(math.Float64frombits(x))
		var v uint64
		switch {
		case f != f: // NaN
			v = 0
		case f < lo:
			if signed {
				v = uint64(int64(-1) << uint(bitsN-1))
			}
		case f >= hi:
			if signed {
				v = 1<<uint(bitsN-1) - 1
			} else {
				v = 1<<uint(bitsN-1)<<1 - 1
			}
		case signed:
			v = uint64(int64(f))
		default:
			v = uint64(f)
		}
		b[i] = v
	}
	encodeInt(d, dt, b)
}
