package cast

import (
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
		} else {
			run(dst, src, f32ToBF16)
		}
	case st == formats.BF16 && dt == formats.F32 && !opt.Saturate:
		run(dst, src, bf16ToF32)
	case st == formats.F32 && dt == formats.F16:
		if opt.Saturate {
			run(dst, src, f32ToF16Sat)
		} else {
			run(dst, src, f32ToF16)
		}
	case st == formats.F32 && dt == formats.F64 && !opt.Saturate:
		run(dst, src, f32ToF64)
	case st == formats.F64 && dt == formats.F32 && !opt.Saturate:
		run(dst, src, f64ToF32)
	case st.Bits() == 16 && classOf(st) == clFloat && dt.TypeSize() <= 4:
		t := lut16(st, dt, opt.Saturate)
		switch dt.TypeSize() {
		case 4:
			run(dst, src, func(d []uint32, s []uint16) { lookup(d, s, t.w32) })
		case 2:
			run(dst, src, func(d []uint16, s []uint16) { lookup(d, s, t.w16) })
		default:
			run(dst, src, func(d []uint8, s []uint16) { lookup(d, s, t.w8) })
		}
	case st.Bits() == 8 && classOf(st) == clFloat:
		t := lut8(st, dt, opt.Saturate)
		switch dt.TypeSize() {
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
		if u&0x7FFFFFFF > 0x7F800000 {
			d[i] = uint16(u>>16)&0x8000 | 0x7FC0
			continue
		}
		d[i] = uint16((u + 0x7FFF + (u>>16)&1) >> 16)
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
		d[i] = f32ToF16One(u)
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
	src := make([]byte, n*key.st.TypeSize())
	for i := 0; i < n; i++ {
		if n == 256 {
			src[i] = byte(i)
		} else {
			src[2*i], src[2*i+1] = byte(i), byte(i>>8)
		}
	}
	ds := key.dt.TypeSize()
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
		formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ} {
		f := miniFormat[d]
		t := make([]uint64, 256)
		for c := range t {
			t[c] = f.decode(uint64(c))
		}
		lut8Dec[d] = t
	}
}
