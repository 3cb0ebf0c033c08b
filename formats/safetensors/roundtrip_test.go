package safetensors

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mlmf/formats"
)

// pattern returns n deterministic bytes.
func pattern(n int64, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7)
	}
	return b
}

// sampleTensors returns tensors of every safetensors dtype, a 0-d scalar,
// empty tensors and odd names.
func sampleTensors(t testing.TB) []formats.Tensor {
	var ts []formats.Tensor
	for i, d := range dtypes {
		shape := []int64{3, 4}
		size, err := d.ByteSize(shape)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, formats.Tensor{Name: "t." + d.String(), DType: d, Shape: shape, Data: formats.BytesData(pattern(size, i))})
	}
	ts = append(ts,
		formats.Tensor{Name: "scalar", DType: formats.F32, Shape: []int64{}, Data: formats.BytesData(pattern(4, 50))},
		formats.Tensor{Name: "empty", DType: formats.BF16, Shape: []int64{0, 7}, Data: formats.BytesData(nil)},
		formats.Tensor{Name: "empty2", DType: formats.BF16, Shape: []int64{0}, Data: formats.BytesData(nil)},
		formats.Tensor{Name: "empty.last", DType: formats.BOOL, Shape: []int64{5, 0}, Data: formats.BytesData(nil)},
		formats.Tensor{Name: "", DType: formats.U8, Shape: []int64{1}, Data: formats.BytesData{9}},
		formats.Tensor{Name: "quote\"back\\slash\n\x01ü😀", DType: formats.I16, Shape: []int64{1, 1, 1, 2}, Data: formats.BytesData(pattern(4, 51))},
	)
	return ts
}

// checkSame compares a reader's tensors with what was written.
func checkSame(t *testing.T, r formats.Reader, want []formats.Tensor) {
	t.Helper()
	got := r.Tensors()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	var next int64 = -1
	for i, info := range got {
		if i > 0 && info.File == got[i-1].File && info.Offset < next {
			t.Errorf("tensors not in data-offset order at %q", info.Name)
		}
		next = info.Offset + info.Size
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(ti formats.TensorInfo) bool { return ti.Name == w.Name })
		if i < 0 {
			t.Fatalf("tensor %q missing", w.Name)
		}
		info := got[i]
		if info.DType != w.DType || !slices.Equal(info.Shape, w.Shape) || info.Shape == nil {
			t.Errorf("tensor %q: %v %v, want %v %v", w.Name, info.DType, info.Shape, w.DType, w.Shape)
		}
		var wantData bytes.Buffer
		w.Data.WriteTo(&wantData)
		if info.Size != int64(wantData.Len()) {
			t.Errorf("tensor %q: size %d, want %d", w.Name, info.Size, wantData.Len())
		}
		sr, err := r.TensorReader(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(sr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, wantData.Bytes()) {
			t.Errorf("tensor %q: TensorReader data differs", w.Name)
		}
		if v, ok := r.(formats.Viewer); ok {
			view, err := v.View(w.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(view, wantData.Bytes()) {
				t.Errorf("tensor %q: View data differs", w.Name)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ts := sampleTensors(t)
	for _, meta := range []map[string]string{
		nil,
		{},
		{"format": "pt", "mlmf.source": "a\"b\\c\nd", "ü": "😀", "": ""},
	} {
		path := filepath.Join(t.TempDir(), "rt.safetensors")
		if err := WriteFile(context.Background(), path, ts, meta); err != nil {
			t.Fatal(err)
		}
		// Memory-mapped.
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, f, ts)
		if !mapsEqual(f.Meta(), meta) {
			t.Errorf("Meta() = %v, want %v", f.Meta(), meta)
		}
		if md := f.Metadata(); (md == nil) != (meta == nil) || len(md) != len(meta) {
			t.Errorf("Metadata() = %v, want %v", md, meta)
		}
		if f.HeaderLen()%8 != 0 || f.HeaderLen() <= 0 {
			t.Errorf("HeaderLen() = %d, want a positive multiple of 8", f.HeaderLen())
		}
		for _, info := range f.Tensors() {
			if info.File != path || info.Offset < 8+f.HeaderLen() {
				t.Errorf("tensor %q: File %q Offset %d", info.Name, info.File, info.Offset)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.View("scalar"); !errors.Is(err, os.ErrClosed) {
			t.Errorf("View after Close: %v, want os.ErrClosed", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}

		// Through an io.ReaderAt, and through the registry.
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rf, err := NewReader(bytes.NewReader(raw), int64(len(raw)), WithName("mem"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rf.View("scalar"); !errors.Is(err, formats.ErrUnsupported) {
			t.Errorf("View without a mapping: %v, want ErrUnsupported", err)
		}
		for _, info := range rf.Tensors() {
			if info.File != "mem" {
				t.Errorf("File = %q, want the WithName name", info.File)
			}
		}
		r, err := formats.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if r.Format() != "safetensors" {
			t.Errorf("Format() = %q", r.Format())
		}
		checkSame(t, r, ts)
		r.Close()

		// Encode is deterministic and WriteFile writes what Encode does.
		var buf bytes.Buffer
		if err := Encode(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), raw) {
			t.Error("WriteFile and Encode differ")
		}
	}
}

func TestLookupErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, sampleTensors(t), nil); err != nil {
		t.Fatal(err)
	}
	f, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), WithName("x.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.TensorReader("nope")
	if !errors.Is(err, formats.ErrNotFound) || !strings.Contains(err.Error(), `x.safetensors: tensor "nope"`) {
		t.Errorf("TensorReader(missing) = %v", err)
	}
}

func TestEmptyTensorsShareOffsets(t *testing.T) {
	// As the reference: several empty tensors at one offset, at the start
	// of the next tensor, and at the very end of the buffer.
	h := `{"z1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"z0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},` +
		`"y0":{"dtype":"I8","shape":[2,0],"data_offsets":[0,0]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},` +
		`"end":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}`
	file := build(h, 8)
	f, err := NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	want := []string{"y0", "z0", "a", "z1", "b", "end"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	for _, n := range want {
		ti, _ := f.Tensor(n)
		sr, _ := f.TensorReader(n)
		if sr.Size() != ti.Size {
			t.Errorf("%s: reader size %d, want %d", n, sr.Size(), ti.Size)
		}
	}
}

func TestReferenceLeniency(t *testing.T) {
	// What the reference accepts, so must we: JSON whitespace before the
	// header object and as padding, unknown keys in an entry, null
	// metadata, escaped names and dtypes.
	for _, c := range []struct{ name, header string }{
		{"leading whitespace", " \n\t{" + f32a + "}"},
		{"tab and newline padding", "{" + f32a + "}\t\n\r "},
		{"unknown entry keys", `{"a":{"x":{"y":[1,2.5e3,true,null,"s"]},"dtype":"F32","shape":[1],"data_offsets":[0,4],"z":-1}}`},
		{"null metadata", `{"__metadata__":null,` + f32a + `}`},
		{"escaped name and dtype", `{"\u0061":{"dtype":"F\u00332","shape":[1],"data_offsets":[0,4]}}`},
		{"F6 whole bytes", `{"a":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}}`},
		{"F4 odd rows, whole bytes", `{"a":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}}`},
	} {
		file := build(c.header, 4)
		f, err := NewReader(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if _, ok := f.Tensor("a"); !ok {
			t.Errorf("%s: tensor a missing", c.name)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	short := formats.Tensor{Name: "w", DType: formats.F32, Shape: []int64{2}, Data: formats.BytesData(make([]byte, 7))}
	long := formats.Tensor{Name: "w", DType: formats.F32, Shape: []int64{2}, Data: formats.BytesData(make([]byte, 9))}
	ok := formats.Tensor{Name: "ok", DType: formats.F32, Shape: []int64{2}, Data: formats.BytesData(make([]byte, 8))}
	for _, c := range []struct {
		name    string
		tensors []formats.Tensor
		want    string
	}{
		{"short data", []formats.Tensor{short}, `tensor "w": data wrote 7 bytes, but F32 [2] needs 8`},
		{"long data", []formats.Tensor{long}, `tensor "w": data writes more bytes`},
		{"duplicate", []formats.Tensor{ok, ok}, `tensor "ok": name given twice`},
		{"ggml dtype", []formats.Tensor{{Name: "q", DType: formats.Q4_0, Shape: []int64{32}, Data: formats.BytesData(make([]byte, 18))}}, "cannot be stored"},
		{"reserved name", []formats.Tensor{{Name: "__metadata__", DType: formats.U8, Shape: []int64{1}, Data: formats.BytesData{1}}}, "reserved"},
		{"negative dim", []formats.Tensor{{Name: "n", DType: formats.U8, Shape: []int64{-1}, Data: formats.BytesData{}}}, "negative"},
		{"no data", []formats.Tensor{{Name: "n", DType: formats.U8, Shape: []int64{1}}}, "no data"},
		{"F4 half byte", []formats.Tensor{{Name: "h", DType: formats.F4, Shape: []int64{3}, Data: formats.BytesData{1, 2}}}, "whole bytes"},
	} {
		err := Encode(io.Discard, c.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteFileCancel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := []formats.Tensor{
		{Name: "a", DType: formats.U8, Shape: []int64{4}, Data: cancelAfter{formats.BytesData{1, 2, 3, 4}, cancel}},
		{Name: "b", DType: formats.U8, Shape: []int64{4}, Data: formats.BytesData{1, 2, 3, 4}},
	}
	err := WriteFile(ctx, path, ts, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	checkUntouched(t, dir, path, "old contents")

	// Cancelled inside a large tensor: stops mid-way.
	ctx, cancel = context.WithCancel(context.Background())
	big := formats.Tensor{Name: "big", DType: formats.U8, Shape: []int64{64 << 20}, Data: chunked{64 << 20, cancel}}
	if err := WriteFile(ctx, path, []formats.Tensor{big}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	checkUntouched(t, dir, path, "old contents")
}

func checkUntouched(t *testing.T, dir, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("target changed: %q, %v", got, err)
	}
	left, err := leftovers(dir)
	if err != nil || len(left) > 0 {
		t.Errorf("temporary files left: %v %v", left, err)
	}
}

func leftovers(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".mlmf-tmp-") {
			out = append(out, p)
		}
		return err
	})
	return out, err
}

// cancelAfter writes its data, then cancels.
type cancelAfter struct {
	data   formats.BytesData
	cancel context.CancelFunc
}

func (c cancelAfter) WriteTo(w io.Writer) (int64, error) {
	n, err := c.data.WriteTo(w)
	c.cancel()
	return n, err
}

// chunked writes n zero bytes in 1 MiB chunks, cancelling after the first.
type chunked struct {
	n      int64
	cancel context.CancelFunc
}

func (c chunked) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 1<<20)
	var done int64
	for done < c.n {
		k, err := w.Write(buf)
		done += int64(k)
		if err != nil {
			return done, err
		}
		c.cancel()
	}
	return done, nil
}

func TestProgress(t *testing.T) {
	ts := sampleTensors(t)
	var calls int
	var last, total int64
	err := Encode(io.Discard, ts, nil, WithProgress(func(done, tot int64) {
		calls++
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
	}))
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, tt := range ts {
		n, _ := tt.DType.ByteSize(tt.Shape)
		want += n
	}
	if calls < len(ts) || last != want || total != want {
		t.Errorf("progress: %d calls, last %d of %d, want %d of %d", calls, last, total, want, want)
	}
}
