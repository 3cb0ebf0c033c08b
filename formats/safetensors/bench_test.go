package safetensors

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mlmf/formats"
)

// sparseCheckpoint writes a sharded checkpoint of n LLaMA-like tensors in
// shards of about shardSize bytes, as sparse files: headers only.
func sparseCheckpoint(b *testing.B, n int, shardSize int64) string {
	dir := b.TempDir()
	var ts []formats.Tensor
	shapes := [][]int64{{4096, 4096}, {11008, 4096}, {4096}}
	for i := range n {
		ts = append(ts, formats.Tensor{Name: fmt.Sprintf("model.layers.%d.mlp.proj_%d.weight", i/10, i%10),
			DType: formats.BF16, Shape: shapes[i%3], Data: formats.BytesData(nil)})
	}
	sizes := make([]int64, n)
	for i, t := range ts {
		sizes[i], _ = t.DType.ByteSize(t.Shape)
	}
	groups := splitShards(sizes, shardSize)
	weightMap := map[string]string{}
	var total int64
	for gi, g := range groups {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", gi+1, len(groups))
		var shard []formats.Tensor
		for _, i := range g {
			shard = append(shard, ts[i])
			weightMap[ts[i].Name] = name
		}
		p, err := layout(shard, map[string]string{"format": "pt"})
		if err != nil {
			b.Fatal(err)
		}
		total += p.dataLen
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		fh.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(p.header))))
		fh.Write(p.header)
		if err := fh.Truncate(8 + int64(len(p.header)) + p.dataLen); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, DefaultIndex), encodeIndex(total, weightMap), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkOpenSharded opens and lists a 2,000-tensor checkpoint of about
// 70 GB in 5 GB shards (sparse files: opening reads headers only).
func BenchmarkOpenSharded(b *testing.B) {
	dir := sparseCheckpoint(b, 2000, 5e9)
	b.ReportAllocs()
	for b.Loop() {
		s, err := OpenSharded(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Tensors()) != 2000 {
			b.Fatal(len(s.Tensors()))
		}
		s.Close()
	}
}

// BenchmarkViewAll reads every byte of a 64 MiB file through View.
func BenchmarkViewAll(b *testing.B) {
	path := filepath.Join(b.TempDir(), "m.safetensors")
	var ts []formats.Tensor
	for i := range 64 {
		ts = append(ts, formats.Tensor{Name: fmt.Sprintf("t%d", i), DType: formats.F32, Shape: []int64{256, 1024},
			Data: formats.BytesData(pattern(1<<20, i))})
	}
	if err := WriteFile(b.Context(), path, ts, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(64 << 20)
	b.ReportAllocs()
	var sum uint64
	for b.Loop() {
		for _, t := range f.Tensors() {
			v, err := f.View(t.Name)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i+8 <= len(v); i += 8 {
				sum += binary.LittleEndian.Uint64(v[i:])
			}
		}
	}
	if sum == 1 {
		b.Log(sum)
	}
}

// BenchmarkParseHeader parses a 20,000-tensor header from memory.
func BenchmarkParseHeader(b *testing.B) {
	var ts []formats.Tensor
	for i := range 20000 {
		ts = append(ts, formats.Tensor{Name: fmt.Sprintf("model.layers.%d.weight", i), DType: formats.F16,
			Shape: []int64{2, 2}, Data: formats.BytesData(make([]byte, 8))})
	}
	p, err := layout(ts, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := string(p.header)
	b.SetBytes(int64(len(h)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseHeader("bench", h, 8+int64(len(h)), p.dataLen); err != nil {
			b.Fatal(err)
		}
	}
}
