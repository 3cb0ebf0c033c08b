// Package imatrix reads llama.cpp importance matrices — the GGUF format
// llama-imatrix writes today and the legacy .dat format — into per-tensor
// weights ready to hand to a quantizer, computed as llama-quantize's
// load_imatrix computes them.
package imatrix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

// Sentinel errors (the shared ones of package formats).
var (
	ErrCorrupt     = formats.ErrCorrupt
	ErrUnsupported = formats.ErrUnsupported
	ErrNotFound    = formats.ErrNotFound
)

// Metadata keys of the GGUF format (tools/imatrix/imatrix.cpp).
const (
	KeyDatasets   = "imatrix.datasets"
	KeyChunkCount = "imatrix.chunk_count"
	KeyChunkSize  = "imatrix.chunk_size"

	sumsSuffix   = ".in_sum2"
	countsSuffix = ".counts"

	// maxValues bounds one entry (experts × row length); the largest real
	// ones (256 experts × 7168) have under 2M.
	maxValues = 1 << 26
)

// Matrix is a loaded importance matrix.
type Matrix struct {
	// Values maps a tensor name (the GGUF name of the weight,
	// "blk.0.ffn_down.weight") to its importance weights: ne[0] values per
	// expert, experts one after the other, as llama-quantize passes them
	// to ggml_quantize_chunk (expert e's row is Values[e*ne0:(e+1)*ne0]).
	Values map[string][]float32
	// Experts is the number of matrices (experts) of each entry: 1 for
	// dense weights.
	Experts map[string]int
	// Datasets names the calibration data (imatrix.datasets, or the legacy
	// trailer's file name).
	Datasets []string
	// ChunkCount is how many chunks the matrix was computed on (imatrix.
	// chunk_count, or the legacy trailer's last call); 0 when unknown.
	ChunkCount int
	// ChunkSize is imatrix.chunk_size (0 for legacy files).
	ChunkSize int
	// Legacy is true for the .dat format.
	Legacy bool
}

// Names returns the entry names, sorted.
func (m *Matrix) Names() []string {
	out := make([]string, 0, len(m.Values))
	for k := range m.Values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Load reads an importance matrix file, GGUF or legacy, told apart by the
// GGUF magic.
func Load(path string) (*Matrix, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	return Read(fh, st.Size(), path)
}

// Read reads an importance matrix of the given size from r; name is used in
// errors.
func Read(r io.ReaderAt, size int64, name string) (*Matrix, error) {
	head := make([]byte, 4)
	if size >= 4 {
		if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
			return nil, fmt.Errorf("imatrix: %s: %w", name, err)
		}
	}
	var m *Matrix
	var err error
	if string(head) == gguf.Magic {
		m, err = readGGUF(r, size, name)
	} else {
		m, err = readLegacy(r, size, name)
	}
	if err != nil {
		return nil, err
	}
	// llama-quantize refuses matrices with non-finite values before using them.
	for _, k := range m.Names() {
		for i, v := range m.Values[k] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("imatrix: %s: entry %q: value %d is %v; llama-quantize refuses non-finite importance values: %w", name, k, i, v, ErrCorrupt)
			}
		}
	}
	return m, nil
}

func readGGUF(r io.ReaderAt, size int64, name string) (*Matrix, error) {
	f, err := gguf.NewReader(r, size, gguf.WithName(name))
	if err != nil {
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	m := &Matrix{Values: map[string][]float32{}, Experts: map[string]int{}}
	// llama-quantize: "missing imatrix metadata" unless all three keys exist.
	for _, k := range []string{KeyDatasets, KeyChunkCount, KeyChunkSize} {
		if _, ok := f.Get(k); !ok {
			return nil, fmt.Errorf("imatrix: %s: missing imatrix metadata key %q (not an llama-imatrix file?): %w", name, k, ErrCorrupt)
		}
	}
	if ds, ok := f.Strings(KeyDatasets); ok {
		m.Datasets = ds
	} else {
		return nil, fmt.Errorf("imatrix: %s: %s must be an array of strings: %w", name, KeyDatasets, ErrCorrupt)
	}
	cc, ok1 := f.Uint(KeyChunkCount)
	cs, ok2 := f.Uint(KeyChunkSize)
	if !ok1 || !ok2 || cc > math.MaxInt32 || cs > math.MaxInt32 {
		return nil, fmt.Errorf("imatrix: %s: %s and %s must be unsigned integers: %w", name, KeyChunkCount, KeyChunkSize, ErrCorrupt)
	}
	m.ChunkCount, m.ChunkSize = int(cc), int(cs)

	type pair struct{ sums, counts *gguf.TensorInfo }
	pairs := map[string]*pair{}
	infos := f.TensorInfos()
	for i := range infos {
		t := &infos[i]
		var base string
		var isSums bool
		switch {
		case strings.HasSuffix(t.Name, sumsSuffix):
			base, isSums = strings.TrimSuffix(t.Name, sumsSuffix), true
		case strings.HasSuffix(t.Name, countsSuffix):
			base = strings.TrimSuffix(t.Name, countsSuffix)
		default:
			continue // other tensors are ignored, as llama-quantize does
		}
		if base == "" {
			continue
		}
		p := pairs[base]
		if p == nil {
			p = &pair{}
			pairs[base] = p
		}
		if isSums {
			p.sums = t
		} else {
			p.counts = t
		}
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("imatrix: %s: no data (no tensors): %w", name, ErrCorrupt)
	}
	for base, p := range pairs {
		if p.sums == nil || p.counts == nil {
			return nil, fmt.Errorf("imatrix: %s: entry %q: mismatched sums and counts (one of %s, %s is missing): %w", name, base, sumsSuffix, countsSuffix, ErrCorrupt)
		}
		for _, t := range []*gguf.TensorInfo{p.sums, p.counts} {
			if t.DType != formats.F32 {
				return nil, fmt.Errorf("imatrix: %s: tensor %q: type %v, want F32: %w", name, t.Name, t.DType, ErrCorrupt)
			}
		}
		ne0, ne1 := dim(p.sums.NE, 0), dim(p.sums.NE, 1)
		if dim(p.sums.NE, 2) != 1 || dim(p.sums.NE, 3) != 1 {
			return nil, fmt.Errorf("imatrix: %s: tensor %q: ne %v, want 2 dimensions: %w", name, p.sums.Name, p.sums.NE, ErrCorrupt)
		}
		if p.sums.NumElements() > maxValues {
			return nil, fmt.Errorf("imatrix: %s: entry %q: %d values, more than the %d mlmf accepts: %w", name, base, p.sums.NumElements(), maxValues, ErrUnsupported)
		}
		if p.counts.NumElements() != ne1 {
			return nil, fmt.Errorf("imatrix: %s: entry %q: %d counts for %d matrices: %w", name, base, p.counts.NumElements(), ne1, ErrCorrupt)
		}
		sums, err := readF32(f, p.sums.Name)
		if err != nil {
			return nil, err
		}
		counts, err := readF32(f, p.counts.Name)
		if err != nil {
			return nil, err
		}
		vals := make([]float32, len(sums))
		for j := int64(0); j < ne1; j++ {
			c := counts[j]
			for i := int64(0); i < ne0; i++ {
				if c > 0 {
					vals[j*ne0+i] = sums[j*ne0+i] / c
				} else {
					// Partial data: this expert never got input during
					// calibration (llama-quantize uses 1).
					vals[j*ne0+i] = 1
				}
			}
		}
		m.Values[base] = vals
		m.Experts[base] = int(ne1)
	}
	return m, nil
}

func dim(ne []int64, i int) int64 {
	if i < len(ne) {
		return ne[i]
	}
	return 1
}

func readF32(f *gguf.File, tensor string) ([]float32, error) {
	sr, err := f.TensorReader(tensor)
	if err != nil {
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	b := make([]byte, sr.Size())
	if _, err := io.ReadFull(sr, b); err != nil {
		return nil, fmt.Errorf("imatrix: %s: tensor %q: %w", f.Name(), tensor, err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// legacyReader reads the .dat format's little-endian fields with bounds
// checks against the file size.
type legacyReader struct {
	r    *io.SectionReader
	size int64
	name string
}

func (l *legacyReader) left() int64 {
	pos, _ := l.r.Seek(0, io.SeekCurrent)
	return l.size - pos
}

func (l *legacyReader) i32(what string) (int32, error) {
	var b [4]byte
	if _, err := io.ReadFull(l.r, b[:]); err != nil {
		return 0, fmt.Errorf("imatrix: %s: reading %s: file ends early: %w", l.name, what, ErrCorrupt)
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

func (l *legacyReader) bytes(n int64, what string) ([]byte, error) {
	if n < 0 || n > l.left() {
		return nil, fmt.Errorf("imatrix: %s: %s of %d bytes runs past the end of the file (%d bytes left): %w", l.name, what, n, l.left(), ErrCorrupt)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(l.r, b); err != nil {
		return nil, fmt.Errorf("imatrix: %s: %s: %w", l.name, what, err)
	}
	return b, nil
}

// readLegacy reads the .dat format: int32 n_entries, then per entry int32
// name length, the name, int32 ncall, int32 nval and nval float32 sums;
// optionally followed by int32 last call and a length-prefixed dataset name.
// Values are sums / ncall when ncall > 0 (tools/quantize load_legacy_imatrix).
func readLegacy(r io.ReaderAt, size int64, name string) (*Matrix, error) {
	l := &legacyReader{r: io.NewSectionReader(r, 0, size), size: size, name: name}
	m := &Matrix{Values: map[string][]float32{}, Experts: map[string]int{}, Legacy: true}
	n, err := l.i32("entry count")
	if err != nil {
		return nil, fmt.Errorf("imatrix: %s: neither a GGUF nor a legacy imatrix file: %w", name, ErrCorrupt)
	}
	if n < 1 {
		return nil, fmt.Errorf("imatrix: %s: no data (%d entries); is this an imatrix file?: %w", name, n, ErrCorrupt)
	}
	// An entry takes at least 4+1+4+4+4 bytes.
	if int64(n) > l.left()/17 {
		return nil, fmt.Errorf("imatrix: %s: %d entries cannot fit in %d bytes; is this an imatrix file?: %w", name, n, size, ErrCorrupt)
	}
	for i := int32(0); i < n; i++ {
		ln, err := l.i32("name length")
		if err != nil {
			return nil, err
		}
		nb, err := l.bytes(int64(ln), fmt.Sprintf("entry %d name", i))
		if err != nil {
			return nil, err
		}
		// llama.cpp builds the name with std::string(char*): it stops at a NUL.
		if k := bytes.IndexByte(nb, 0); k >= 0 {
			nb = nb[:k]
		}
		key := string(nb)
		if _, dup := m.Values[key]; dup {
			return nil, fmt.Errorf("imatrix: %s: entry %q appears twice: %w", name, key, ErrCorrupt)
		}
		ncall, err := l.i32("call count")
		if err != nil {
			return nil, err
		}
		nval, err := l.i32("value count")
		if err != nil {
			return nil, err
		}
		if nval < 1 {
			return nil, fmt.Errorf("imatrix: %s: entry %q: %d values: %w", name, key, nval, ErrCorrupt)
		}
		if int64(nval)*4 <= l.left() && nval > maxValues {
			return nil, fmt.Errorf("imatrix: %s: entry %q: %d values, more than the %d mlmf accepts: %w", name, key, nval, maxValues, ErrUnsupported)
		}
		b, err := l.bytes(int64(nval)*4, fmt.Sprintf("entry %q values", key))
		if err != nil {
			return nil, err
		}
		vals := make([]float32, nval)
		for j := range vals {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			if ncall > 0 {
				v /= float32(ncall)
			}
			vals[j] = v
		}
		m.Values[key] = vals
		m.Experts[key] = 1
	}
	if l.left() > 0 {
		last, err := l.i32("last call")
		if err != nil {
			return nil, err
		}
		dl, err := l.i32("dataset name length")
		if err != nil {
			return nil, err
		}
		ds, err := l.bytes(int64(dl), "dataset name")
		if err != nil {
			return nil, err
		}
		m.ChunkCount = int(last)
		m.Datasets = []string{string(ds)}
	}
	return m, nil
}

// Filter applies llama-quantize's --include-weights / --exclude-weights:
// entries whose name contains any exclude string are dropped; when include
// is given, only entries whose name contains one of them are kept. The two
// cannot be combined.
func (m *Matrix) Filter(include, exclude []string) error {
	if len(include) > 0 && len(exclude) > 0 {
		return errors.New("imatrix: --include-weights and --exclude-weights cannot be used together")
	}
	keep := func(k string) bool {
		for _, s := range exclude {
			if strings.Contains(k, s) {
				return false
			}
		}
		if len(include) == 0 {
			return true
		}
		for _, s := range include {
			if strings.Contains(k, s) {
				return true
			}
		}
		return false
	}
	for k := range m.Values {
		if !keep(k) {
			delete(m.Values, k)
			delete(m.Experts, k)
		}
	}
	return nil
}

// For returns the importance weights of a tensor with row length ne0 and
// nExpert matrices, checked as llama-quantize checks them: nil (and no
// error) when the matrix has no entry for it; an error when the size does
// not match ne0*nExpert, except for token embeddings, which llama-quantize
// quantizes without an imatrix in that case.
func (m *Matrix) For(tensor string, ne0, nExpert int64) ([]float32, error) {
	v, ok := m.Values[tensor]
	if !ok {
		return nil, nil
	}
	if nExpert < 1 {
		nExpert = 1
	}
	if int64(len(v)) != ne0*nExpert {
		if tensor == "token_embd.weight" || tensor == "per_layer_token_embd.weight" {
			return nil, nil
		}
		return nil, fmt.Errorf("imatrix: entry %q has %d values but the tensor needs %d (%d per row × %d experts): the imatrix was computed for another model: %w",
			tensor, len(v), ne0*nExpert, ne0, nExpert, ErrCorrupt)
	}
	return v, nil
}
