package ggml

import (
	"errors"
	"testing"

	"mlmf/formats"
)

// TestValidateRows: what Quantize makes of normal rows passes; an infinite
// or NaN f16 in any field ggml_validate_row_data checks does not, and the
// error names the block.
func TestValidateRows(t *testing.T) {
	t.Parallel()
	for _, dt := range quantTypes() {
		bs := dt.BlockSize()
		if bs == 1 {
			bs = 32
		}
		n := 2 * max(bs, 256)
		x := normalRows(7, n)
		rs, err := RowSize(dt, n)
		if err != nil {
			t.Fatal(err)
		}
		q := make([]byte, rs)
		if err := Quantize(q, x, dt, n, nil); err != nil {
			t.Fatal(err)
		}
		if err := ValidateRows(dt, q); err != nil {
			t.Errorf("%v: %v", dt, err)
		}
		if err := ValidateRows(dt, q[:len(q)-1]); !errors.Is(err, ErrSize) {
			t.Errorf("%v: a partial block: err = %v", dt, err)
		}
		ts := dt.TypeSize()
		var offs []int
		switch dt {
		case formats.F16, formats.BF16, formats.F32:
			offs = []int{ts * 3}
		case formats.MXFP4:
			c := append([]byte(nil), q...)
			c[ts] = 0xff
			if err := ValidateRows(dt, c); !errors.Is(err, ErrInvalidData) {
				t.Errorf("%v: exponent 0xff: err = %v", dt, err)
			}
			continue
		default:
			for _, o := range scaleFields[dt] {
				offs = append(offs, ts+o) // in the second block
			}
			if len(offs) == 0 {
				t.Errorf("%v: no scale fields known", dt)
			}
		}
		// +Inf, -Inf and NaN in the field's own format
		bad := [][]byte{{0x00, 0x7c}, {0x00, 0xfc}, {0x00, 0x7e}}
		switch dt {
		case formats.F32:
			bad = [][]byte{{0, 0, 0x80, 0x7f}, {0, 0, 0x80, 0xff}, {0, 0, 0xc0, 0x7f}}
		case formats.BF16:
			bad = [][]byte{{0x80, 0x7f}, {0x80, 0xff}, {0xc0, 0x7f}}
		}
		for _, o := range offs {
			for _, b := range bad {
				c := append([]byte(nil), q...)
				copy(c[o:], b)
				if err := ValidateRows(dt, c); !errors.Is(err, ErrInvalidData) {
					t.Errorf("%v: % x at byte %d: err = %v", dt, b, o, err)
				}
			}
		}
	}
}
