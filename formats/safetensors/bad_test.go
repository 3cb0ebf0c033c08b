package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"mlmf/formats"
)

// build returns a file with the given header and data buffer length.
func build(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

// withLen returns a file whose header length field says n, followed by rest.
func withLen(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

const f32a = `"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`

type badCase struct {
	name string
	file []byte
	want string // part of the error message
	// preHeader: rejected from the first 8 bytes, before the header is read.
	preHeader bool
}

func badCases() []badCase {
	return []badCase{
		{"empty file", nil, "file is empty", true},
		{"7 bytes", []byte{2, 0, 0, 0, 0, 0, 0}, "too short", true},
		{"header length past EOF", withLen(100, "{}"), "header length 100 runs past the end", true},
		{"header length over 100 MB", withLen(100_000_001, "{}"), "exceeds the 100000000-byte limit", true},
		{"header length 2^64-1", withLen(^uint64(0), "{}"), "exceeds", true},
		{"header length 2^63", withLen(1<<63, "{}"), "exceeds", true},
		{"zero-length header", withLen(0, ""), "expected '{'", false},
		{"invalid JSON", build(`{"a":`, 0), "found the end of the text", false},
		{"invalid JSON, no colon", build(`{"a" 1}`, 0), "invalid JSON header at byte 13 of the file: expected ':'", false},
		{"unterminated string", build(`{"a`, 0), "unterminated string", false},
		{"not an object: array", build(`[]`, 0), "expected '{'", false},
		{"not an object: string", build(`"x"`, 0), "expected '{'", false},
		{"byte order mark", build("\ufeff{}", 0), "expected '{'", false},
		{"trailing garbage", build(`{}x`, 0), "after the header object", false},
		{"NUL padding", build("{}\x00\x00", 0), "after the header object", false},
		{"trailing comma", build(`{`+f32a+`,}`, 4), "expected a string", false},
		{"invalid UTF-8", build("{\"a\xff\":{}}", 0), "not valid UTF-8", false},
		{"raw control character in name", build("{\"a\x01\":{}}", 0), "control character", false},
		{"lone surrogate in name", build(`{"\ud800":{}}`, 0), "lone leading surrogate", false},
		{"bad escape", build(`{"\q":{}}`, 0), "invalid escape", false},
		{"entry not an object", build(`{"a":5}`, 0), `tensor "a": entry must be an object`, false},
		{"empty entry", build(`{"a":{}}`, 0), `tensor "a": entry has no dtype`, false},
		{"missing data_offsets", build(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `tensor "a": entry has no data_offsets`, false},
		{"missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "a": entry has no shape`, false},
		{"duplicate field", build(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "dtype appears twice", false},
		{"unknown dtype", build(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": unknown dtype "F33"`, false},
		{"lower-case dtype", build(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, 4), `unknown dtype "f32"`, false},
		{"ggml block dtype", build(`{"a":{"dtype":"Q4_0","shape":[32],"data_offsets":[0,18]}}`, 18), `unknown dtype "Q4_0"`, false},
		{"dtype not a string", build(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, 4), "dtype must be a string", false},
		{"shape not an array", build(`{"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}`, 4), "shape must be an array", false},
		{"size does not match shape", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "hold 4 bytes, but F32 [2] needs 8", false},
		{"overflowing dims", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "overflows", false},
		{"overflowing bytes", build(`{"a":{"dtype":"F64","shape":[1152921504606846976],"data_offsets":[0,8]}}`, 8), "overflows", false},
		{"dim past 63 bits", build(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, 4), "does not fit 63 bits", false},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "negative number", false},
		{"fractional dim", build(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4), "floating-point", false},
		{"leading zero", build(`{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}`, 4), "leading zero", false},
		{"negative offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), "negative number", false},
		{"three offsets", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}`, 4), "exactly two", false},
		{"one offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), "exactly two", false},
		{"begin after end", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8), "begin after end", false},
		{"offsets past the data", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "run past the end of the data buffer", false},
		{"empty tensor past the data", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}`, 4), `tensor "z"`, false},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), `tensor "b": data_offsets [4, 12] overlap tensor "a"`, false},
		{"same range twice", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "overlap", false},
		{"empty tensor inside another", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, 8), "overlap", false},
		{"hole", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), "hole of 4 bytes", false},
		{"hole at the start", build(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "hole of 4 bytes at offset 0", false},
		{"uncovered tail", build(`{`+f32a+`}`, 8), "4 bytes at the end of the data buffer belong to no tensor", false},
		{"data but no tensors", build(`{}`, 4), "belong to no tensor", false},
		{"duplicate tensor", build(`{`+f32a+`,`+f32a+`}`, 4), `tensor "a": name appears twice`, false},
		{"duplicate tensor, escaped", build(`{`+f32a+`,"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": name appears twice`, false},
		{"metadata not a string map", build(`{"__metadata__":{"a":1}}`, 0), `value of "a" must be a string`, false},
		{"metadata nested", build(`{"__metadata__":{"a":{"b":"c"}}}`, 0), "must be a string", false},
		{"metadata an array", build(`{"__metadata__":["a"]}`, 0), "must be an object of strings", false},
		{"metadata twice", build(`{"__metadata__":{},"__metadata__":{}}`, 0), "__metadata__ appears twice", false},
		{"metadata key twice", build(`{"__metadata__":{"a":"b","a":"c"}}`, 0), `key "a" appears twice`, false},
		{"F4 not whole bytes", build(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2), "whole bytes", false},
		{"deep nesting in an unknown field", build(`{"a":{"x":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+`,"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "nested more than", false},
		{"bad literal", build(`{"a":{"x":nul,"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "expected a value", false},
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range badCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			name := "bad-" + strings.ReplaceAll(c.name, " ", "_") + ".safetensors"
			f, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)), WithName(name))
			checkBad(t, f, err, name, c.want)

			// The same through Open (memory-mapped, or pread for short files).
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err = Open(path)
			checkBad(t, f, err, path, c.want)
			r, err := formats.Open(path)
			if err == nil {
				r.Close()
				t.Errorf("formats.Open accepted %s", c.name)
			}
		})
	}
}

func checkBad(t *testing.T, f *File, err error, name, want string) {
	t.Helper()
	if err == nil {
		f.Close()
		t.Fatalf("accepted; want an error containing %q", want)
	}
	msg := err.Error()
	if !errors.Is(err, formats.ErrCorrupt) {
		t.Errorf("error %q does not wrap ErrCorrupt", msg)
	}
	if !strings.HasPrefix(msg, "safetensors: "+name+": ") {
		t.Errorf("error %q does not start with %q", msg, "safetensors: "+name+": ")
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBadInputAllocations: files rejected from their first 8 bytes allocate
// under 1 MB whatever they claim; the others at most twice the declared
// header length (the header, and decoded strings that had escapes) plus a
// small amount per tensor the header could hold.
func TestBadInputAllocations(t *testing.T) {
	for _, c := range badCases() {
		r := bytes.NewReader(c.file)
		got := allocated(func() { NewReader(r, int64(len(c.file))) })
		limit := uint64(1 << 20)
		if !c.preHeader {
			n := uint64(len(c.file) - 8)
			limit = 2*n + 64<<10 + 256*(n/minEntryLen+1)
		}
		if got > limit {
			t.Errorf("%s: allocated %d bytes, limit %d", c.name, got, limit)
		}
	}
}

// TestAllocationsScaleWithHeader checks big headers, valid and not.
func TestAllocationsScaleWithHeader(t *testing.T) {
	var ts []formats.Tensor
	for i := range 20000 {
		ts = append(ts, formats.Tensor{Name: "model.layers." + strings.Repeat("x", i%7) + itoa(i) + ".weight",
			DType: formats.F16, Shape: []int64{2, 2}, Data: formats.BytesData(make([]byte, 8))})
	}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	valid := buf.Bytes()
	n := binary.LittleEndian.Uint64(valid)

	// A header made of one huge metadata value, and one of whitespace.
	bigMeta := build(`{"__metadata__":{"k":"`+strings.Repeat("v", 4<<20)+`"}}`, 0)
	spaces := build("{}"+strings.Repeat(" ", 4<<20), 0)
	// A hostile header full of escaped "data_offsets" strings, which
	// fails.
	inflated := build(`{"__metadata__":{"k":"`+strings.Repeat(`\"data_offsets\"`, 200000)+`"}, "a": 5}`, 0)

	for _, c := range []struct {
		name    string
		file    []byte
		tensors int
		ok      bool
	}{
		{"20000 tensors", valid, len(ts), true},
		{"4 MB metadata value", bigMeta, 0, true},
		{"4 MB of padding", spaces, 0, true},
		{"inflated count estimate", inflated, 0, false},
	} {
		var err error
		got := allocated(func() { _, err = NewReader(bytes.NewReader(c.file), int64(len(c.file))) })
		if (err == nil) != c.ok {
			t.Fatalf("%s: err = %v", c.name, err)
		}
		hl := uint64(len(c.file)) - 8
		if c.name == "20000 tensors" {
			hl = n
		}
		limit := hl + 64<<10 + 256*uint64(c.tensors)
		if c.name == "inflated count estimate" {
			// Strings with escapes are decoded into new memory: at most
			// the header length once more.
			limit += hl
		}
		t.Logf("%s: header %d bytes, allocated %d (limit %d)", c.name, hl, got, limit)
		if got > limit {
			t.Errorf("%s: allocated %d bytes, limit %d", c.name, got, limit)
		}
	}
}

func itoa(i int) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
