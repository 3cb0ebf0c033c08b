package cast

import (
	"testing"

	"mlmf/formats"
)

// FuzzConvert feeds arbitrary bytes, dtype pairs, options and buffer
// lengths to Convert and ConvertParallel: they must never panic, must agree
// with each other, and must reject every length that does not fit.
func FuzzConvert(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x7F, 1, 0, 0xC0, 0xFF}, uint8(formats.F32), uint8(formats.BF16), false, false, 0)
	f.Add([]byte{0x7F, 0xFF, 0x80, 0x00}, uint8(formats.F8_E4M3), uint8(formats.F16), true, false, 1)
	f.Add([]byte{0x12, 0x34, 0x56}, uint8(formats.F4), uint8(formats.F64), false, true, -1)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(formats.I64), uint8(formats.F8_E8M0), true, true, 0)
	f.Fuzz(func(t *testing.T, data []byte, s, d uint8, sat, via bool, extra int) {
		st, dt := formats.DType(s), formats.DType(d)
		opt := Options{Saturate: sat, ViaF32: via}
		n := 2 * len(data)
		if st != formats.F4 && st.TypeSize() > 0 {
			n = len(data) / st.TypeSize()
		}
		dn := 0
		if dt == formats.F4 {
			dn = (n + 1) / 2
		} else if dt.TypeSize() > 0 {
			dn = n * dt.TypeSize()
		}
		dn += extra % 3
		if dn < 0 {
			dn = 0
		}
		a := make([]byte, dn)
		b := make([]byte, dn)
		ea := Convert(a, dt, data, st, opt)
		eb := ConvertParallel(b, dt, data, st, opt, 3)
		if (ea == nil) != (eb == nil) {
			t.Fatalf("Convert: %v, ConvertParallel: %v", ea, eb)
		}
		if ea == nil && string(a) != string(b) {
			t.Fatalf("Convert and ConvertParallel differ")
		}
		if ea == nil && Supported(st, dt) == false {
			t.Fatalf("unsupported pair %v→%v converted", st, dt)
		}
	})
}
