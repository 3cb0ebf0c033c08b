package imatrix_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mlmf/formats"
	"mlmf/formats/gguf"
	"mlmf/formats/imatrix"
)

func f32s(v ...float32) formats.BytesData {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

var metaKVs = []gguf.KV{
	gguf.String("general.type", "imatrix"),
	gguf.Strings(imatrix.KeyDatasets, []string{"wiki.train.raw"}),
	gguf.Uint32(imatrix.KeyChunkCount, 100),
	gguf.Uint32(imatrix.KeyChunkSize, 512),
}

func writeGGUF(t *testing.T, kvs []gguf.KV, ts []formats.Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := gguf.WriteTo(context.Background(), &buf, kvs, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func read(b []byte) (*imatrix.Matrix, error) {
	return imatrix.Read(bytes.NewReader(b), int64(len(b)), "test.imatrix")
}

func TestGGUF(t *testing.T) {
	// A dense tensor (ne0 4, 1 matrix) and a MoE one (ne0 2, 3 experts, the
	// last never routed to during calibration).
	ts := []formats.Tensor{
		{Name: "blk.0.attn_q.weight.counts", DType: formats.F32, Shape: []int64{1, 1}, Data: f32s(4)},
		{Name: "blk.0.attn_q.weight.in_sum2", DType: formats.F32, Shape: []int64{1, 4}, Data: f32s(4, 8, 2, 1)},
		{Name: "blk.0.ffn_down_exps.weight.in_sum2", DType: formats.F32, Shape: []int64{3, 2}, Data: f32s(3, 6, 10, 20, 5, 5)},
		{Name: "blk.0.ffn_down_exps.weight.counts", DType: formats.F32, Shape: []int64{3, 1}, Data: f32s(3, 10, 0)},
		{Name: "blk.0.ffn_down_exps.weight.in_sum", DType: formats.F32, Shape: []int64{1, 1}, Data: f32s(9)}, // ignored
	}
	m, err := read(writeGGUF(t, metaKVs, ts))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"blk.0.attn_q.weight":        {1, 2, 0.5, 0.25},
		"blk.0.ffn_down_exps.weight": {1, 2, 1, 2, 1, 1},
	}
	if !reflect.DeepEqual(m.Values, want) {
		t.Errorf("values %v, want %v", m.Values, want)
	}
	if m.Experts["blk.0.ffn_down_exps.weight"] != 3 || m.Experts["blk.0.attn_q.weight"] != 1 {
		t.Errorf("experts %v", m.Experts)
	}
	if m.ChunkCount != 100 || m.ChunkSize != 512 || m.Datasets[0] != "wiki.train.raw" || m.Legacy {
		t.Errorf("metadata %+v", m)
	}
	if v, err := m.For("blk.0.ffn_down_exps.weight", 2, 3); err != nil || len(v) != 6 {
		t.Errorf("For: %v %v", v, err)
	}
	if _, err := m.For("blk.0.ffn_down_exps.weight", 2, 2); err == nil {
		t.Error("For with the wrong expert count succeeded")
	}
	if v, err := m.For("missing", 2, 1); v != nil || err != nil {
		t.Errorf("For(missing) = %v, %v", v, err)
	}
	if err := m.Filter([]string{"attn"}, nil); err != nil || len(m.Values) != 1 {
		t.Errorf("include filter: %v %v", m.Names(), err)
	}
}

func legacy(entries []struct {
	name  string
	ncall int32
	vals  []float32
}, trailer bool) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.name)))
		b = append(b, e.name...)
		b = binary.LittleEndian.AppendUint32(b, uint32(e.ncall))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.vals)))
		b = append(b, f32s(e.vals...)...)
	}
	if trailer {
		b = binary.LittleEndian.AppendUint32(b, 42)
		b = binary.LittleEndian.AppendUint32(b, 4)
		b = append(b, "data"...)
	}
	return b
}

type entry = struct {
	name  string
	ncall int32
	vals  []float32
}

func TestLegacy(t *testing.T) {
	b := legacy([]entry{{"output.weight", 4, []float32{4, 2}}, {"blk.0.ffn_up.weight", 0, []float32{3}}}, true)
	dir := t.TempDir()
	p := filepath.Join(dir, "imatrix.dat")
	os.WriteFile(p, b, 0o644)
	m, err := imatrix.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"output.weight": {1, 0.5}, "blk.0.ffn_up.weight": {3}}
	if !reflect.DeepEqual(m.Values, want) || !m.Legacy || m.ChunkCount != 42 || m.Datasets[0] != "data" {
		t.Errorf("got %+v", m)
	}
	if err := m.Filter(nil, []string{"output"}); err != nil || len(m.Values) != 1 {
		t.Errorf("exclude: %v %v", m.Names(), err)
	}
	if err := m.Filter([]string{"a"}, []string{"b"}); err == nil {
		t.Error("include with exclude accepted")
	}
	if m, err := read(legacy([]entry{{"a", 1, []float32{1}}}, false)); err != nil || m.ChunkCount != 0 {
		t.Errorf("no trailer: %+v %v", m, err)
	}
}

func TestBad(t *testing.T) {
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	okTensors := []formats.Tensor{
		{Name: "a.in_sum2", DType: formats.F32, Shape: []int64{1, 2}, Data: f32s(1, 2)},
		{Name: "a.counts", DType: formats.F32, Shape: []int64{1, 1}, Data: f32s(1)},
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "neither a GGUF nor a legacy"},
		{"zero entries", u32(0), "no data"},
		{"negative entries", u32(0x80000000), "no data"},
		{"entries past file", u32(1 << 30), "cannot fit"},
		{"name length huge", append(u32(1, 1<<31-1), make([]byte, 20)...), "runs past the end"},
		{"name length negative", append(u32(1, 0xffffffff), make([]byte, 20)...), "runs past the end"},
		{"nval huge", append(append(u32(1, 1), 'a'), append(u32(1, 1<<30), make([]byte, 8)...)...), "runs past the end"},
		{"nval zero", append(append(u32(1, 1), 'a'), append(u32(1, 0), make([]byte, 8)...)...), "0 values"},
		{"duplicate entry", legacy([]entry{{"a", 1, []float32{1}}, {"a", 1, []float32{1}}}, false), "appears twice"},
		{"truncated trailer", append(legacy([]entry{{"a", 1, []float32{1}}}, false), 1, 2), "file ends early"},
		{"trailer dataset past file", append(legacy([]entry{{"a", 1, []float32{1}}}, false), u32(1, 100)...), "runs past the end"},
		{"legacy nan", legacy([]entry{{"a", 1, []float32{float32(math.NaN())}}}, false), "non-finite"},
		{"gguf missing metadata", writeGGUF(t, metaKVs[:2], okTensors), `missing imatrix metadata key "imatrix.chunk_count"`},
		{"gguf datasets not strings", writeGGUF(t, []gguf.KV{gguf.Uint32(imatrix.KeyDatasets, 1), metaKVs[2], metaKVs[3]}, okTensors), "array of strings"},
		{"gguf no tensors", writeGGUF(t, metaKVs, nil), "no data"},
		{"gguf counts missing", writeGGUF(t, metaKVs, okTensors[:1]), "mismatched sums and counts"},
		{"gguf sums missing", writeGGUF(t, metaKVs, okTensors[1:]), "mismatched sums and counts"},
		{"gguf counts size", writeGGUF(t, metaKVs, []formats.Tensor{okTensors[0], {Name: "a.counts", DType: formats.F32, Shape: []int64{2, 1}, Data: f32s(1, 1)}}), "2 counts for 1 matrices"},
		{"gguf not f32", writeGGUF(t, metaKVs, []formats.Tensor{okTensors[0], {Name: "a.counts", DType: formats.I32, Shape: []int64{1, 1}, Data: f32s(1)}}), "want F32"},
		{"gguf 3d sums", writeGGUF(t, metaKVs, []formats.Tensor{{Name: "a.in_sum2", DType: formats.F32, Shape: []int64{2, 1, 1}, Data: f32s(1, 2)}, okTensors[1]}), "want 2 dimensions"},
		{"gguf inf", writeGGUF(t, metaKVs, []formats.Tensor{{Name: "a.in_sum2", DType: formats.F32, Shape: []int64{1, 1}, Data: f32s(float32(math.Inf(1)))}, okTensors[1]}), "non-finite"},
		{"gguf corrupt header", []byte("GGUF\x01\x00\x00\x00"), "version 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := read(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if !errors.Is(err, imatrix.ErrCorrupt) && !errors.Is(err, imatrix.ErrUnsupported) {
				t.Errorf("error %v has no sentinel", err)
			}
		})
	}
}

func TestFixtures(t *testing.T) {
	// The two formats of the same matrix give the same weights.
	g, err := imatrix.Load("testdata/imatrix.gguf")
	if err != nil {
		t.Fatal(err)
	}
	l, err := imatrix.Load("testdata/imatrix.dat")
	if err != nil {
		t.Fatal(err)
	}
	q := "blk.0.attn_q.weight"
	if !reflect.DeepEqual(g.Values[q], []float32{1, 2, 3, 4}) || !reflect.DeepEqual(l.Values[q], g.Values[q]) {
		t.Errorf("gguf %v, legacy %v", g.Values[q], l.Values[q])
	}
	if e := g.Values["blk.0.ffn_up_exps.weight"]; !reflect.DeepEqual(e, []float32{0.5, 1, 1, 1}) {
		t.Errorf("experts %v", e)
	}
	if g.Datasets[0] != l.Datasets[0] || g.ChunkCount != l.ChunkCount {
		t.Errorf("metadata %+v vs %+v", g, l)
	}
}

func BenchmarkLoadGGUF(b *testing.B) {
	// A 7B-sized matrix: 224 entries of 4096 (and 14336) values.
	var ts []formats.Tensor
	for i := range 32 {
		for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			ne0 := int64(4096)
			if n == "ffn_down" {
				ne0 = 14336
			}
			name := fmt.Sprintf("blk.%d.%s.weight", i, n)
			ts = append(ts,
				formats.Tensor{Name: name + ".in_sum2", DType: formats.F32, Shape: []int64{1, ne0}, Data: formats.BytesData(make([]byte, 4*ne0))},
				formats.Tensor{Name: name + ".counts", DType: formats.F32, Shape: []int64{1, 1}, Data: f32s(1)})
		}
	}
	var buf bytes.Buffer
	if _, err := gguf.WriteTo(context.Background(), &buf, metaKVs, ts); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := read(data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, p := range []string{"testdata/imatrix.gguf", "testdata/imatrix.dat"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(legacy([]entry{{"a", 2, []float32{1, 2}}}, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := read(b)
		if err != nil {
			return
		}
		for k, v := range m.Values {
			if len(v) == 0 || m.Experts[k] < 1 {
				t.Fatalf("entry %q: %d values, %d experts", k, len(v), m.Experts[k])
			}
		}
	})
}
