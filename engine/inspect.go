// Package engine runs jobs over checkpoints — inspect, convert, and (as the
// product grows) quantize, preview and merge — for both the CLI and the TUI.
// It never imports a UI package.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"

	"mlmf/formats"
	"mlmf/formats/gguf"
)

// Summary describes an opened checkpoint. Its JSON form is mlmf's stable
// `inspect --json` output, documented in the README.
type Summary struct {
	Path           string                `json:"path"`
	Format         string                `json:"format"`
	Files          []string              `json:"files"`
	Metadata       map[string]any        `json:"metadata"`
	TensorCount    int                   `json:"tensor_count"`
	ParameterCount int64                 `json:"parameter_count"`
	TotalBytes     int64                 `json:"total_bytes"`
	BitsPerWeight  float64               `json:"bits_per_weight"`
	DTypes         map[string]DTypeTotal `json:"dtypes"`
	Tensors        []TensorRow           `json:"tensors"`
	// MetadataLines is the metadata in storage order with long values
	// summarised, for display (not part of the JSON).
	MetadataLines [][2]string `json:"-"`
}

// DTypeTotal sums the tensors of one dtype.
type DTypeTotal struct {
	Tensors    int   `json:"tensors"`
	Parameters int64 `json:"parameters"`
	Bytes      int64 `json:"bytes"`
}

// TensorRow is one line of the tensor table.
type TensorRow struct {
	Name   string  `json:"name"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
	Bytes  int64   `json:"bytes"`
	Offset int64   `json:"offset"`
	File   string  `json:"file"`
	SHA256 string  `json:"sha256,omitempty"`
}

// InspectOptions selects optional, slower parts of a summary.
type InspectOptions struct {
	// Hash adds the sha256 of every tensor's bytes (reads all data).
	Hash bool
}

// Inspect summarises the checkpoint r (opened from path). With Hash it reads
// every tensor's bytes, checking ctx between tensors.
func Inspect(ctx context.Context, path string, r formats.Reader, opt InspectOptions) (*Summary, error) {
	s := &Summary{
		Path:     path,
		Format:   r.Format(),
		Metadata: r.Metadata(),
		DTypes:   map[string]DTypeTotal{},
		Tensors:  []TensorRow{},
	}
	if s.Metadata == nil {
		s.Metadata = map[string]any{}
	}
	infos := r.Tensors()
	if f, ok := r.(formats.Files); ok {
		s.Files = f.Files()
	} else {
		seen := map[string]bool{}
		for _, t := range infos {
			if t.File != "" && !seen[t.File] {
				seen[t.File] = true
				s.Files = append(s.Files, t.File)
			}
		}
		if len(s.Files) == 0 {
			s.Files = []string{path}
		}
	}
	s.TensorCount = len(infos)
	for _, t := range infos {
		n := t.NumElements()
		s.ParameterCount += n
		s.TotalBytes += t.Size
		d := s.DTypes[t.DType.String()]
		d.Tensors++
		d.Parameters += n
		d.Bytes += t.Size
		s.DTypes[t.DType.String()] = d
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		row := TensorRow{Name: t.Name, DType: t.DType.String(), Shape: shape, Bytes: t.Size, Offset: t.Offset, File: t.File}
		if opt.Hash {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sum, err := hashTensor(r, t.Name)
			if err != nil {
				return nil, err
			}
			row.SHA256 = sum
		}
		s.Tensors = append(s.Tensors, row)
	}
	if s.ParameterCount > 0 {
		s.BitsPerWeight = float64(s.TotalBytes) * 8 / float64(s.ParameterCount)
	}
	if g, ok := r.(*gguf.File); ok {
		for _, kv := range g.KVs() {
			s.MetadataLines = append(s.MetadataLines, [2]string{kv.Key, kv.Format(8, 80)})
		}
	}
	return s, nil
}

func hashTensor(r formats.Reader, name string) (string, error) {
	h := sha256.New()
	if v, ok := r.(formats.Viewer); ok {
		b, err := v.View(name)
		if err != nil {
			return "", err
		}
		h.Write(b)
	} else {
		sr, err := r.TensorReader(name)
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(h, sr); err != nil {
			return "", fmt.Errorf("read tensor %q: %w", name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SortedDTypes returns the dtype names of s in a stable order (largest first).
func (s *Summary) SortedDTypes() []string {
	names := make([]string, 0, len(s.DTypes))
	for k := range s.DTypes {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := s.DTypes[names[i]], s.DTypes[names[j]]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return names[i] < names[j]
	})
	return names
}
