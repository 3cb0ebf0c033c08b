package cast

import (
	"encoding/binary"
	"math"
	"sync"

	"mlmf/formats"
)

// fastPath converts the pairs that have a dedicated kernel or a lookup
// table and reports whether it did. Every kernel is checked against the
// generic path on every 8- and 16-bit input and on sampled 32-bit inputs.
func fastPath(dst []byte, dt formats.DType, src []byte, st formats.DType, opt Options) bool {
	switch {
	case st == formats.F32 && dt == formats.BF16:
		if opt.Saturate {
			run(dst, src, f32ToBF16Sat)
			break
		}
		run(dst, src, f32ToBF16Fast)
	case st == formats.F32 && bitsOf(dt) == 8 && classOf(dt) == clFloat:
		t := lutF32To8(dt, opt.Saturate)
		run(dst, src, func(d []uint8, s []uint32) { f32To8(d, s, t) })
	case st == formats.F64 && bitsOf(dt) == 8 && classOf(dt) == clFloat:
		t := lutF32To8(dt, opt.Saturate)
		odd := !opt.ViaF32
		run(dst, src, func(d []uint8, s []uint64) { f64To8(d, s, t, odd) })
	case st == formats.F64 && dt == formats.BF16 && opt.ViaF32:
		sat := opt.Saturate
		run(dst, src, func(d []uint16, s []uint64) { f64ToBF16ViaF32(d, s, sat) })
	case st == formats.F64 && dt == formats.BF16:
		sat := opt.Saturate
		if sat {
			run(dst, src, func(d []uint16, s []uint64) { f64ToBF16Direct(d, s, true) })
		} else {
			run(dst, src, f64ToBF16Fast)
		}
	case st == formats.F64 && dt == formats.F16:
		sat := opt.Saturate
		run(dst, src, func(d []uint16, s []uint64) { f64ToF16Direct(d, s, sat) })
	case st == formats.BF16 && dt == formats.F32 && !opt.Saturate:
		run(dst, src, bf16ToF32Fast)
	case st == formats.F32 && dt == formats.F16:
		if opt.Saturate {
			run(dst, src, f32ToF16Sat)
		} else {
			run(dst, src, func(d []uint16, s []uint32) {
				i := f32ToF16Vec(d, s)
				f32ToF16(d[i:], s[i:])
			})
		}
	case st == formats.BF16 && dt == formats.F16 && !opt.Saturate && hasF16C && useSIMD:
		t := lut16(st, dt, false)
		run(dst, src, func(d []uint16, s []uint16) {
			i := bf16ToF16Vec(d, s)
			lookup(d[i:], s[i:], t.w16)
		})
	case st == formats.F32 && dt == formats.F64 && !opt.Saturate:
		run(dst, src, f32ToF64)
	case st == formats.F64 && dt == formats.F32 && !opt.Saturate:
		run(dst, src, f64ToF32)
	case bitsOf(st) == 16 && classOf(st) == clFloat && size(dt) <= 4:
		t := lut16(st, dt, opt.Saturate)
		switch size(dt) {
		case 4:
			run(dst, src, func(d []uint32, s []uint16) { lookup(d, s, t.w32) })
		case 2:
			run(dst, src, func(d []uint16, s []uint16) { lookup(d, s, t.w16) })
		default:
			run(dst, src, func(d []uint8, s []uint16) { lookup(d, s, t.w8) })
		}
	case bitsOf(st) == 8 && classOf(st) == clFloat:
		t := lut8(st, dt, opt.Saturate)
		switch size(dt) {
		case 8:
			run(dst, src, func(d []uint64, s []uint8) { lookup(d, s, t.w64) })
		case 4:
			run(dst, src, func(d []uint32, s []uint8) { lookup(d, s, t.w32) })
		case 2:
			run(dst, src, func(d []uint16, s []uint8) { lookup(d, s, t.w16) })
		default:
			lookup(dst, src, t.w8)
		}
	default:
		return false
	}
	return true
}

func lookup[S uint8 | uint16, D word](d []D, s []S, t []D) {
	d = d[:len(s)]
	for i, x := range s {
		d[i] = t[x]
	}
}

func f32ToBF16(d []uint16, s []uint32) {
	d = d[:len(s)]
	for i, u := range s {
		r := (u + 0x7FFF + (u>>16)&1) >> 16
		if u&0x7FFFFFFF > 0x7F800000 {
			r = (u>>16)&0x8000 | 0x7FC0
		}
		d[i] = uint16(r)
	}
}

// f32ToBF16Fast uses AVX2 where it can, then two elements per 64-bit word,
// then one at a time.
func f32ToBF16Fast(d []uint16, s []uint32) {
	i := f32ToBF16Vec(d, s)
	d, s = d[i:], s[i:]
	pairs := len(s) / 2 * 2
	w, oks := view[uint64](u32Bytes(s[:pairs]))
	dw, okd := view[uint32](u16Bytes(d[:pairs]))
	if oks && okd && pairs > 0 {
		f32ToBF16Pairs(dw, w)
		d, s = d[pairs:], s[pairs:]
	}
	f32ToBF16(d, s)
}

func bf16ToF32Fast(d []uint32, s []uint16) {
	i := bf16ToF32Vec(d, s)
	bf16ToF32(d[i:], s[i:])
}

// f32ToBF16Pairs rounds two float32 per word at once (SWAR); a word that
// holds a NaN goes through f32ToBF16.
func f32ToBF16Pairs(d []uint32, s []uint64) {
	d = d[:len(s)]
	for i, w := range s {
		// bit 31 of each half is set where that half is a NaN
		if ((w&0x7FFFFFFF7FFFFFFF)+0x007FFFFF007FFFFF)&0x8000000080000000 != 0 {
			var pair [2]uint16
			f32ToBF16(pair[:], []uint32{uint32(w), uint32(w >> 32)})
			d[i] = uint32(pair[0]) | uint32(pair[1])<<16
			continue
		}
		// No half can carry into the other: the largest non-NaN half,
		// 0xFF800000, plus 0x8000 stays below 2^32.
		r := w + 0x00007FFF00007FFF + (w>>16)&0x0000000100000001
		d[i] = uint32(r>>16)&0xFFFF | uint32(r>>32)&0xFFFF0000
	}
}

func f32ToBF16Sat(d []uint16, s []uint32) {
	f32ToBF16(d, s)
	for i, h := range d {
		if h&0x7FFF == 0x7F80 {
			d[i] = h&0x8000 | 0x7F7F
		}
	}
}

func bf16ToF32(d []uint32, s []uint16) {
	d = d[:len(s)]
	for i, h := range s {
		d[i] = uint32(h) << 16
	}
}

func f32ToF64(d []uint64, s []uint32) {
	d = d[:len(s)]
	for i, u := range s {
		// The conversion instruction quiets a signalling NaN and keeps its
		// payload, which is what numpy does.
		d[i] = math.Float64bits(float64(math.Float32frombits(u)))
	}
}

func f64ToF32(d []uint32, s []uint64) {
	d = d[:len(s)]
	for i, u := range s {
		d[i] = math.Float32bits(float32(math.Float64frombits(u)))
	}
}

// f32ToF16One rounds one float32 to float16 as numpy does: nearest even,
// NaN payload's top bits kept without quieting (0x7C01 if they are zero).
func f32ToF16One(u uint32) uint16 {
	sign := uint16(u>>16) & 0x8000
	a := u & 0x7FFFFFFF
	switch {
	case a > 0x7F800000:
		r := uint16(0x7C00 | (a>>13)&0x3FF)
		if r == 0x7C00 {
			r = 0x7C01
		}
		return sign | r
	case a >= 0x477FF000: // 65520 and up round to Inf
		return sign | 0x7C00
	case a >= 0x38800000: // normal half
		a -= 112 << 23
		return sign | uint16((a+0xFFF+(a>>13)&1)>>13)
	case a <= 0x33000000: // at most half the smallest subnormal: zero
		return sign
	default: // subnormal half
		m := a&0x7FFFFF | 0x800000
		shift := 126 - a>>23
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && r&1 == 1 {
			r++
		}
		return sign | uint16(r)
	}
}

func f32ToF16(d []uint16, s []uint32) {
	d = d[:len(s)]
	for i, u := range s {
		a := u & 0x7FFFFFFF
		if a-0x38800000 >= 0x477FF000-0x38800000 {
			// not a normal half: zero, subnormal, overflow, Inf or NaN
			d[i] = f32ToF16One(u)
			continue
		}
		a -= 112 << 23
		d[i] = uint16(u>>16)&0x8000 | uint16((a+0xFFF+(a>>13)&1)>>13)
	}
}

func f32ToF16Sat(d []uint16, s []uint32) {
	d = d[:len(s)]
	for i, u := range s {
		h := f32ToF16One(u)
		if h&0x7FFF == 0x7C00 {
			h = h&0x8000 | 0x7BFF
		}
		d[i] = h
	}
}

// Lookup tables, built once per (source, target, saturate) on first use
// by running the generic path over every source pattern.

type table struct {
	w8  []uint8
	w16 []uint16
	w32 []uint32
	w64 []uint64
}

type lutKey struct {
	st, dt formats.DType
	sat    bool
}

var (
	lutMu   sync.Mutex
	lutMap  = map[lutKey]*table{}
	lutFast sync.Map // lutKey → *table, read without the lock
)

func buildTable(key lutKey, n int) *table {
	if t, ok := lutFast.Load(key); ok {
		return t.(*table)
	}
	lutMu.Lock()
	defer lutMu.Unlock()
	if t, ok := lutMap[key]; ok {
		return t
	}
	src := make([]byte, n*size(key.st))
	for i := 0; i < n; i++ {
		if n == 256 {
			src[i] = byte(i)
		} else {
			src[2*i], src[2*i+1] = byte(i), byte(i>>8)
		}
	}
	ds := size(key.dt)
	dst := make([]byte, n*ds)
	if key.st == key.dt {
		copy(dst, src)
	} else {
		generic(dst, key.dt, src, key.st, n, Options{Saturate: key.sat})
	}
	t := &table{}
	switch ds {
	case 8:
		t.w64 = make([]uint64, n)
		w, _ := view[uint64](dst)
		copy(t.w64, w)
	case 4:
		t.w32 = make([]uint32, n)
		w, _ := view[uint32](dst)
		copy(t.w32, w)
	case 2:
		t.w16 = make([]uint16, n)
		w, _ := view[uint16](dst)
		copy(t.w16, w)
	default:
		t.w8 = dst
	}
	lutMap[key] = t
	lutFast.Store(key, t)
	return t
}

func lut16(st, dt formats.DType, sat bool) *table {
	return buildTable(lutKey{st, dt, sat}, 1<<16)
}

func lut8(st, dt formats.DType, sat bool) *table {
	return buildTable(lutKey{st, dt, sat}, 1<<8)
}

// lut8F64 returns the float64 bits of every pattern of an 8-bit float type.
func lut8F64(st formats.DType) []uint64 {
	return lut8Dec[st]
}

var lut8Dec = map[formats.DType][]uint64{}

func init() {
	for _, d := range []formats.DType{formats.F8_E4M3, formats.F8_E5M2, formats.F8_E8M0,
		formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ, f4x1} {
		f := miniFormat[d]
		t := make([]uint64, 256)
		for c := range t {
			t[c] = f.decode(uint64(c))
		}
		lut8Dec[d] = t
	}
}

// f64ToOddF32 rounds a non-NaN double to float32 by round-to-odd: toward
// zero, then the last bit set if anything was lost. Rounding that result
// once more to nearest even at 8 bits of precision fewer or less (BF16, F16,
// the F8 types) equals rounding the double once (Boldo and Melquiond,
// "Emulation of FMA and correctly rounded sums: proved algorithms using
// rounding to odd", 2008). Magnitudes beyond MaxFloat32 give ±MaxFloat32,
// which still rounds to the narrower type's overflow result.
func f64ToOddF32(u uint64) uint32 {
	x := math.Float64frombits(u)
	f := float32(x)
	b := math.Float32bits(f)
	if g := float64(f); g != x {
		if math.Abs(g) > math.Abs(x) {
			b-- // one step toward zero in magnitude
		}
		b |= 1
	}
	return b
}

// f64ToBF16ViaF32 is ml_dtypes' double rounding: F64 to F32, then to BF16.
func f64ToBF16ViaF32(d []uint16, s []uint64, sat bool) {
	d = d[:len(s)]
	for i, u := range s {
		b := math.Float32bits(float32(math.Float64frombits(u)))
		r := (b + 0x7FFF + (b>>16)&1) >> 16
		if b&0x7FFFFFFF > 0x7F800000 {
			r = (b>>16)&0x8000 | 0x7FC0
		} else if sat && r&0x7FFF == 0x7F80 {
			r = r&0x8000 | 0x7F7F
		}
		d[i] = uint16(r)
	}
}

// f64ToBF16Direct and f64ToF16Direct round doubles to BF16 or F16 once,
// straight from their bits: for a result in the target's normal range,
// rounding the double's exponent and top mantissa bits as one integer at the
// target's last mantissa bit is round-to-nearest-even, and a carry out of the
// mantissa lands in the exponent (up to Inf) as it should. Subnormal
// results, NaN and Inf take the generic encoder (f64ToHalfSlow).
func f64ToBF16Direct(d []uint16, s []uint64, sat bool) {
	d = d[:len(s)]
	for i, b := range s {
		a := b &^ (1 << 63)
		// double exponents 897..1150 give normal bfloat16 exponents 1..254
		if a>>52-897 > 1150-897 {
			d[i] = f64ToHalfSlow(b, &fmtBF16, formats.BF16, sat)
			continue
		}
		h := uint16((a+(1<<44-1)+(a>>45)&1)>>45 - 896<<7)
		if sat && h == 0x7F80 {
			h = 0x7F7F
		}
		d[i] = uint16(b>>48)&0x8000 | h
	}
}

func f64ToF16Direct(d []uint16, s []uint64, sat bool) {
	d = d[:len(s)]
	for i, b := range s {
		a := b &^ (1 << 63)
		// double exponents 1009..1038 give normal half exponents 1..30
		if a>>52-1009 > 1038-1009 {
			d[i] = f64ToHalfSlow(b, &fmtF16, formats.F16, sat)
			continue
		}
		h := uint16((a+(1<<41-1)+(a>>42)&1)>>42 - 1008<<10)
		if sat && h == 0x7C00 {
			h = 0x7BFF
		}
		d[i] = uint16(b>>48)&0x8000 | h
	}
}

// f64ToBF16Fast alternates SIMD runs with eight scalar elements wherever a
// group of eight holds a value for the slow path.
func f64ToBF16Fast(d []uint16, s []uint64) {
	for len(s) >= 8 {
		k := f64ToBF16Vec(d, s)
		d, s = d[k:], s[k:]
		if len(s) < 8 {
			break
		}
		if k == 0 && !useSIMD {
			break
		}
		f64ToBF16Direct(d[:8], s[:8], false)
		d, s = d[8:], s[8:]
	}
	f64ToBF16Direct(d, s, false)
}

//go:noinline
func f64ToHalfSlow(b uint64, f *mini, dt formats.DType, sat bool) uint16 {
	if b&^(1<<63) > 0x7FF0000000000000 {
		return uint16(f.encodeNaN(b, nanModeFor(formats.F64, dt)))
	}
	return uint16(f.encode(b, sat))
}

// lutF32To8 maps a float32 to an 8-bit float by its top 16 bits and one
// sticky bit (any of the low 16 bits set): every 8-bit format rounds at bit
// 19 of a float32 or above, so the low bits matter only through that bit.
func lutF32To8(dt formats.DType, sat bool) []uint8 {
	key := lutKey{formats.F32, dt, sat}
	if t, ok := lutFast.Load(key); ok {
		return t.(*table).w8
	}
	lutMu.Lock()
	defer lutMu.Unlock()
	if t, ok := lutMap[key]; ok {
		return t.w8
	}
	src := make([]byte, 4<<17)
	for i := 0; i < 1<<17; i++ {
		binary.LittleEndian.PutUint32(src[4*i:], uint32(i>>1)<<16|uint32(i&1))
	}
	dst := make([]byte, 1<<17)
	generic(dst, dt, src, formats.F32, 1<<17, Options{Saturate: sat})
	t := &table{w8: dst}
	lutMap[key] = t
	lutFast.Store(key, t)
	return dst
}

func f32To8(d []uint8, s []uint32, t []uint8) {
	d = d[:len(s)]
	t = t[:1<<17]
	for i, u := range s {
		sticky := (u&0xFFFF + 0xFFFF) >> 16 // 1 if any low bit is set
		d[i] = t[(u>>16)<<1|sticky&1]
	}
}

func f64To8(d []uint8, s []uint64, t []uint8, odd bool) {
	d = d[:len(s)]
	t = t[:1<<17]
	for i, u := range s {
		var b uint32
		if odd && u&^(1<<63) < 0x7FF0000000000000 {
			b = f64ToOddF32(u)
		} else {
			b = math.Float32bits(float32(math.Float64frombits(u)))
		}
		sticky := (b&0xFFFF + 0xFFFF) >> 16
		d[i] = t[(b>>16)<<1|sticky&1]
	}
}
