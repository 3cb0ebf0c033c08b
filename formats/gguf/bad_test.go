package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

// hb builds raw GGUF bytes, valid or not, for the bad-input table.
type hb struct{ b []byte }

func newHB(version uint32, nTensors, nKV uint64) *hb {
	h := &hb{b: []byte("GGUF")}
	return h.u32(version).u64(nTensors).u64(nKV)
}

func (h *hb) raw(b ...byte) *hb { h.b = append(h.b, b...); return h }
func (h *hb) u32(v uint32) *hb  { h.b = binary.LittleEndian.AppendUint32(h.b, v); return h }
func (h *hb) u64(v uint64) *hb  { h.b = binary.LittleEndian.AppendUint64(h.b, v); return h }
func (h *hb) str(s string) *hb  { return h.u64(uint64(len(s))).raw([]byte(s)...) }
func (h *hb) kvU32(k string, v uint32) *hb {
	return h.str(k).u32(uint32(gguf.TypeUint32)).u32(v)
}

// ti appends a tensor info with ne in GGUF order.
func (h *hb) ti(name string, typ uint32, off uint64, ne ...uint64) *hb {
	h.str(name).u32(uint32(len(ne)))
	for _, n := range ne {
		h.u64(n)
	}
	return h.u32(typ).u64(off)
}

// pad pads to a multiple of 32 and appends n data bytes.
func (h *hb) data(n int) *hb {
	for len(h.b)%32 != 0 {
		h.b = append(h.b, 0)
	}
	h.b = append(h.b, make([]byte, n)...)
	return h
}

func (h *hb) bytes() []byte { return h.b }

func nestedArray(depth int) *hb {
	h := newHB(3, 0, 1).str("deep").u32(uint32(gguf.TypeArray))
	for range depth {
		h.u32(uint32(gguf.TypeArray)).u64(1)
	}
	return h.u32(uint32(gguf.TypeUint8)).u64(1).raw(7)
}

func TestBadInput(t *testing.T) {
	const (
		q40 = 2
		f32 = 0
	)
	cases := []struct {
		name string
		in   []byte
		want string // substring of the error
		is   error
	}{
		{"empty", nil, "too short", gguf.ErrCorrupt},
		{"three bytes", []byte("GGU"), "too short", gguf.ErrCorrupt},
		{"bad magic", append([]byte("GGUX"), make([]byte, 20)...), "bad magic", gguf.ErrCorrupt},
		{"safetensors not gguf", append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, []byte(`{"a":1}`)...), "bad magic", gguf.ErrCorrupt},
		{"magic only", []byte("GGUF"), "needs 4 bytes", gguf.ErrCorrupt},
		{"version 1", newHB(1, 0, 0).bytes(), "GGUF version 1 is not supported", gguf.ErrUnsupported},
		{"version 4", newHB(4, 0, 0).bytes(), "GGUF version 4 is not supported", gguf.ErrUnsupported},
		{"version 0", newHB(0, 0, 0).bytes(), "GGUF version 0 is not supported", gguf.ErrUnsupported},
		{"big-endian version 1", newHB(0x01000000, 0, 0).bytes(), "GGUF version 1 is not supported", gguf.ErrUnsupported},
		{"counts truncated", []byte("GGUF\x03\x00\x00\x00\x01\x00"), "needs 8 bytes", gguf.ErrCorrupt},
		{"tensor count past file", newHB(3, 1<<40, 0).bytes(), "tensor count 1099511627776", gguf.ErrCorrupt},
		{"kv count past file", newHB(3, 0, 1<<60).bytes(), "key-value count 1152921504606846976", gguf.ErrCorrupt},
		{"kv count 1 but 12 bytes", newHB(3, 0, 1).raw(make([]byte, 12)...).bytes(), "key-value count 1 at offset 24 needs at least 13 bytes", gguf.ErrCorrupt},
		{"key truncated", newHB(3, 0, 1).u64(9).raw(make([]byte, 8)...).bytes(), "key 0 of 1", gguf.ErrCorrupt},
		{"huge key length", newHB(3, 0, 1).u64(1 << 60).raw(make([]byte, 20)...).bytes(), "string of 1152921504606846976 bytes", gguf.ErrCorrupt},
		{"key length past file", newHB(3, 0, 1).u64(100).raw(make([]byte, 20)...).bytes(), "runs past the end", gguf.ErrCorrupt},
		{"huge string value", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeString)).u64(1 << 63).bytes(), "string of 9223372036854775808 bytes", gguf.ErrCorrupt},
		{"huge u8 array", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeUint8)).u64(1 << 60).raw(make([]byte, 64)...).bytes(), "array uint8 count 1152921504606846976", gguf.ErrCorrupt},
		{"huge string array", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeString)).u64(1 << 40).raw(make([]byte, 64)...).bytes(), "array string count 1099511627776", gguf.ErrCorrupt},
		{"u64 array one past", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeUint64)).u64(3).raw(make([]byte, 23)...).bytes(), "array uint64 count 3", gguf.ErrCorrupt},
		{"string array element past file", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeString)).u64(1).u64(1000).bytes(), "string 0 of 1", gguf.ErrCorrupt},
		{"nested arrays too deep", nestedArray(20).bytes(), "nested deeper than 8", gguf.ErrUnsupported},
		{"nested array huge inner count", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeArray)).u64(1).u32(uint32(gguf.TypeInt32)).u64(1 << 50).raw(make([]byte, 16)...).bytes(), "array int32 count 1125899906842624", gguf.ErrCorrupt},
		{"nested array outer count", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeArray)).u64(1 << 30).raw(make([]byte, 40)...).bytes(), "array array count 1073741824", gguf.ErrCorrupt},
		{"unknown value type", newHB(3, 0, 1).str("k").u32(13).u32(0).bytes(), "unknown value type 13", gguf.ErrCorrupt},
		{"unknown value type max", newHB(3, 0, 1).str("k").u32(math.MaxUint32).u32(0).bytes(), "unknown value type 4294967295", gguf.ErrCorrupt},
		{"unknown array element type", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(99).u64(0).bytes(), "array of unknown value type 99", gguf.ErrCorrupt},
		{"bool value 2", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeBool)).raw(2).bytes(), "neither 0 nor 1", gguf.ErrCorrupt},
		{"bool array value 7", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeBool)).u64(2).raw(1, 7).bytes(), "neither 0 nor 1", gguf.ErrCorrupt},
		{"value truncated", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeUint64)).raw(1, 2, 3).bytes(), "needs 8 bytes", gguf.ErrCorrupt},
		{"duplicate key", newHB(3, 0, 2).kvU32("a", 1).kvU32("a", 2).bytes(), `key "a" appears twice`, gguf.ErrCorrupt},
		{"alignment zero", newHB(3, 0, 1).kvU32(gguf.KeyAlignment, 0).bytes(), "alignment 0 is not a power of two", gguf.ErrCorrupt},
		{"alignment three", newHB(3, 0, 1).kvU32(gguf.KeyAlignment, 3).bytes(), "alignment 3 is not a power of two", gguf.ErrCorrupt},
		{"alignment huge", newHB(3, 0, 1).kvU32(gguf.KeyAlignment, 1<<31).bytes(), "alignment 2147483648", gguf.ErrCorrupt},
		{"alignment string", newHB(3, 0, 1).str(gguf.KeyAlignment).u32(uint32(gguf.TypeString)).str("32").bytes(), "must be an unsigned integer", gguf.ErrCorrupt},
		{"alignment negative", newHB(3, 0, 1).str(gguf.KeyAlignment).u32(uint32(gguf.TypeInt32)).u32(0xffffffe0).bytes(), "must be an unsigned integer", gguf.ErrCorrupt},
		{"too many dims", newHB(3, 1, 0).ti("t", f32, 0, 1, 1, 1, 1, 1).data(4).bytes(), `tensor "t": 5 dimensions`, gguf.ErrCorrupt},
		{"dims count huge", newHB(3, 1, 0).str("t").u32(math.MaxUint32).raw(make([]byte, 40)...).bytes(), `tensor "t": 4294967295 dimensions`, gguf.ErrCorrupt},
		{"negative dim", newHB(3, 1, 0).ti("t", f32, 0, 4, math.MaxUint64).data(16).bytes(), "past the int64 range", gguf.ErrCorrupt},
		{"dim overflow", newHB(3, 1, 0).ti("t", f32, 0, 1<<40, 1<<40).data(16).bytes(), "overflows", gguf.ErrCorrupt},
		{"byte size overflow", newHB(3, 1, 0).ti("t", f32, 0, 1<<61).data(16).bytes(), "overflows", gguf.ErrCorrupt},
		{"removed tensor type", newHB(3, 1, 0).ti("t", 31, 0, 32).data(32).bytes(), `tensor "t": unknown ggml type id 31`, gguf.ErrUnsupported},
		{"tensor type max", newHB(3, 1, 0).ti("t", math.MaxUint32, 0, 32).data(32).bytes(), "unknown ggml type id 4294967295", gguf.ErrUnsupported},
		{"row not multiple of block", newHB(3, 1, 0).ti("t", q40, 0, 33).data(32).bytes(), "not a multiple of the block size 32", gguf.ErrCorrupt},
		{"misaligned offset", newHB(3, 1, 0).ti("t", f32, 1, 4).data(64).bytes(), "data offset 1 is not a multiple of the alignment 32", gguf.ErrCorrupt},
		{"overlapping tensors", newHB(3, 2, 0).ti("a", f32, 0, 16).ti("b", f32, 32, 16).data(128).bytes(), `tensor "b": data`, gguf.ErrCorrupt},
		{"data past eof", newHB(3, 1, 0).ti("t", f32, 0, 64).data(100).bytes(), "runs past the end of the file", gguf.ErrCorrupt},
		{"offset overflow", newHB(3, 1, 0).ti("t", f32, math.MaxUint64-31, 8).data(32).bytes(), "overflows", gguf.ErrCorrupt},
		{"duplicate tensor", newHB(3, 2, 0).ti("t", f32, 0, 8).ti("t", f32, 32, 8).data(64).bytes(), `tensor "t" appears twice`, gguf.ErrCorrupt},
		{"tensor name huge", newHB(3, 1, 0).u64(1 << 62).raw(make([]byte, 30)...).bytes(), "string of 4611686018427387904 bytes", gguf.ErrCorrupt},
		{"tensor name too long", newHB(3, 1, 0).str(strings.Repeat("x", 70000)).raw(make([]byte, 30)...).bytes(), "longer than the 65536 allowed", gguf.ErrCorrupt},
		{"tensor info truncated", newHB(3, 1, 0).str("t").u32(2).u64(4).raw(make([]byte, 15)...).bytes(), `tensor "t"`, gguf.ErrCorrupt},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := gguf.NewReader(bytes.NewReader(c.in), int64(len(c.in)), gguf.WithName("bad.gguf"))
			runtime.ReadMemStats(&after)
			if err == nil {
				f.Close()
				t.Fatalf("no error")
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "gguf: bad.gguf: ") {
				t.Errorf("error %q does not name the file", err)
			}
			// Bounded memory: the input is at most 70 KB; parsing it may not
			// allocate more than a small multiple of that (tests run serially).
			if d := after.TotalAlloc - before.TotalAlloc; d > 512<<10 {
				t.Errorf("allocated %d bytes on a %d-byte input", d, len(c.in))
			}
		})
	}
}

func TestZeroDimAndScalarAccepted(t *testing.T) {
	in := newHB(3, 2, 0).ti("empty", 0, 0, 0, 8).ti("scalar", 0, 0).data(4).bytes()
	f, err := gguf.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	ts := f.Tensors()
	if ts[0].Size != 0 || len(ts[1].Shape) != 0 || ts[1].Size != 4 || ts[0].Shape[0] != 8 || ts[0].Shape[1] != 0 {
		t.Errorf("tensors %+v", ts)
	}
	if ts[0].DType != formats.F32 {
		t.Errorf("dtype %v", ts[0].DType)
	}
}

func TestVersion2(t *testing.T) {
	b, err := os.ReadFile("testdata/tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	b[4] = 2 // v2 and v3 share the layout
	f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != 2 || len(f.Tensors()) != 4 {
		t.Errorf("version %d, %d tensors", f.Version(), len(f.Tensors()))
	}
}

func TestBigEndianHeaderReadDataRefused(t *testing.T) {
	// version, counts and the KV encoded big-endian, as gguf-py writes them.
	b := []byte("GGUF")
	b = binary.BigEndian.AppendUint32(b, 3)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = append(b, 'n')
	b = binary.BigEndian.AppendUint32(b, uint32(gguf.TypeUint32))
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint64(b, 1)
	b = append(b, 't')
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint64(b, 2)
	b = binary.BigEndian.AppendUint32(b, 0) // F32
	b = binary.BigEndian.AppendUint64(b, 0)
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	b = append(b, make([]byte, 8)...)
	f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !f.BigEndian() || f.Version() != 3 {
		t.Errorf("big endian %v version %d", f.BigEndian(), f.Version())
	}
	if v, ok := f.Uint("n"); !ok || v != 7 {
		t.Errorf("n = %d, %v", v, ok)
	}
	if _, err := f.TensorReader("t"); !errors.Is(err, gguf.ErrUnsupported) || !strings.Contains(err.Error(), "big-endian") {
		t.Errorf("tensor data of a big-endian file: %v", err)
	}
	// The same with the magic written as a native big-endian uint32.
	copy(b, "FUGG")
	if f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b))); err != nil || !f.BigEndian() {
		t.Errorf("FUGG magic: %v", err)
	}
}

// sparse is a huge file: a real prefix, then zeros.
type sparse struct {
	head []byte
	size int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > s.size-off {
		n = int(s.size - off)
	}
	for i := 0; i < n; i++ {
		o := off + int64(i)
		if o < int64(len(s.head)) {
			p[i] = s.head[o]
		} else {
			p[i] = 0
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestHugeFileHostileHeader(t *testing.T) {
	const size = 70 << 30 // a 70 GB model file
	cases := []struct {
		name string
		head []byte
		want string
	}{
		{"kv count", newHB(3, 0, 1<<32).bytes(), "key-value count 4294967296"},
		{"tensor count", newHB(3, 1<<30, 0).bytes(), "tensor count 1073741824"},
		{"u8 array of 60 GB", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeUint8)).u64(60 << 30).bytes(), "array uint8 count 64424509440"},
		{"string of 1 GB", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeString)).u64(1 << 30).bytes(), "mlmf reads headers up to 256 MiB"},
		{"string array of empty strings", newHB(3, 0, 1).str("k").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeString)).u64(1 << 31).bytes(), "array string count 2147483648"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := gguf.NewReader(sparse{c.head, size}, size)
			runtime.ReadMemStats(&after)
			if err == nil || !errors.Is(err, gguf.ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q (unsupported)", err, c.want)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Errorf("allocated %d bytes", d)
			}
		})
	}
}
