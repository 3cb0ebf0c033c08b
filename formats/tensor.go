package formats

import (
	"context"
	"io"
)

// TensorInfo describes one tensor as stored: where its bytes are and how to
// interpret them. Readers fill it from headers only.
type TensorInfo struct {
	Name  string  `json:"name"`
	DType DType   `json:"dtype"`
	Shape []int64 `json:"shape"`
	// File is the path of the file holding the bytes (one of a sharded
	// checkpoint's shards, for instance).
	File string `json:"file,omitempty"`
	// Offset is the absolute byte offset of the data within File.
	Offset int64 `json:"offset"`
	// Size is the number of data bytes.
	Size int64 `json:"size"`
}

// NumElements returns the element count of the tensor.
func (t TensorInfo) NumElements() int64 {
	n, err := NumElements(t.Shape)
	if err != nil {
		return 0
	}
	return n
}

// Reader is an opened checkpoint: tensor infos and metadata read from its
// headers, with tensor bytes available on demand.
type Reader interface {
	// Format names the format ("safetensors", "gguf", …).
	Format() string
	// Tensors lists the tensors in storage order. The slice must not be modified.
	Tensors() []TensorInfo
	// Metadata returns the checkpoint's free-form metadata (safetensors
	// __metadata__, GGUF key-values); nil when there is none.
	Metadata() map[string]any
	// TensorReader returns a reader over the bytes of the named tensor.
	TensorReader(name string) (*io.SectionReader, error)
	// Close releases mappings and files.
	Close() error
}

// Viewer is implemented by readers that can hand out zero-copy views of
// tensor bytes (memory-mapped files). The view is valid until Close.
type Viewer interface {
	View(name string) ([]byte, error)
}

// Files is implemented by readers made of several files (sharded checkpoints).
type Files interface {
	Files() []string
}

// Tensor is a tensor to write: its bytes come from Data, which must write
// exactly the size that DType and Shape imply.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  io.WriterTo
}

// Writer writes tensors and metadata to path atomically: a temporary file in
// the target directory, fsync, rename, fsync of the directory.
type Writer interface {
	Write(ctx context.Context, path string, tensors []Tensor, metadata map[string]string) error
}

// BytesData adapts a byte slice to io.WriterTo for Tensor.Data.
type BytesData []byte

// WriteTo writes the bytes to w.
func (b BytesData) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

// SectionData adapts a section reader to io.WriterTo for Tensor.Data.
type SectionData struct{ R *io.SectionReader }

// WriteTo copies the whole section to w.
func (s SectionData) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, io.NewSectionReader(s.R, 0, s.R.Size()))
}
