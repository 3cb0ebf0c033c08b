package formats

import (
	"errors"
	"testing"
)

func TestDTypeSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d     DType
		bits  int
		shape []int64
		bytes int64
	}{
		{BOOL, 8, []int64{3}, 3},
		{U16, 16, []int64{2, 2}, 8},
		{F32, 32, []int64{}, 4}, // 0-d scalar
		{F64, 64, []int64{0, 5}, 0},
		{C64, 64, []int64{2}, 16},
		{F8_E4M3, 8, []int64{7}, 7},
		{F6_E2M3, 6, []int64{4}, 3},
		{F4, 4, []int64{2, 3}, 3},
		{Q4_0, 0, []int64{2, 64}, 2 * 2 * 18},
		{Q4_K, 0, []int64{1, 512}, 2 * 144},
		{MXFP4, 0, []int64{32}, 17},
	}
	for _, c := range cases {
		if got := c.d.Bits(); got != c.bits {
			t.Errorf("%v.Bits() = %d, want %d", c.d, got, c.bits)
		}
		got, err := c.d.ByteSize(c.shape)
		if err != nil || got != c.bytes {
			t.Errorf("%v.ByteSize(%v) = %d, %v; want %d", c.d, c.shape, got, err, c.bytes)
		}
	}
}

func TestByteSizeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d     DType
		shape []int64
	}{
		{F32, []int64{-1}},
		{F32, []int64{1 << 40, 1 << 40}},
		{F64, []int64{1 << 61}},
		{F4, []int64{3}},       // 12 bits: not whole bytes
		{Q4_0, []int64{2, 48}}, // row not a block multiple
		{Invalid, []int64{1}},
	}
	for _, c := range cases {
		if _, err := c.d.ByteSize(c.shape); err == nil {
			t.Errorf("%v.ByteSize(%v): want error", c.d, c.shape)
		}
	}
}

func TestParseDTypeAndGGML(t *testing.T) {
	t.Parallel()
	for _, d := range AllDTypes() {
		got, err := ParseDType(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDType(%q) = %v, %v", d.String(), got, err)
		}
		if id, ok := d.GGML(); ok {
			back, ok := FromGGML(id)
			if !ok || back != d {
				t.Errorf("FromGGML(%d) = %v, want %v", id, back, d)
			}
		}
	}
	if _, err := ParseDType("F7"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ParseDType(F7) error = %v", err)
	}
	// A few ids as llama.cpp's ggml.h numbers them.
	for id, want := range map[uint32]DType{0: F32, 1: F16, 8: Q8_0, 12: Q4_K, 30: BF16, 39: MXFP4} {
		if got, _ := FromGGML(id); got != want {
			t.Errorf("FromGGML(%d) = %v, want %v", id, got, want)
		}
	}
	if bpw := Q4_K.BitsPerWeight(); bpw != 4.5 {
		t.Errorf("Q4_K bits per weight = %v", bpw)
	}
}
