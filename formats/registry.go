package formats

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Format describes a checkpoint format to the registry. A format package
// registers itself with Register in its init function, as image formats do
// with image.RegisterFormat.
type Format struct {
	// Name is the format's short name ("safetensors").
	Name string
	// Sniff reports whether the first bytes of a file (up to SniffLen, fewer
	// for short files) are this format's. Nil when the format has no magic.
	Sniff func(head []byte) bool
	// Exts are file name extensions, with the dot (".safetensors").
	Exts []string
	// Dir reports whether a directory holds a checkpoint of this format.
	Dir func(dir string) bool
	// Open opens a file or directory of this format. Nil means the format is
	// recognised but this build cannot read it yet.
	Open func(path string) (Reader, error)
}

// SniffLen is how many leading bytes Open reads to recognise a file.
const SniffLen = 64

var (
	regMu   sync.RWMutex
	formats []Format
)

// Register adds a format, replacing an earlier registration of the same name.
func Register(f Format) {
	regMu.Lock()
	defer regMu.Unlock()
	for i := range formats {
		if formats[i].Name == f.Name {
			formats[i] = f
			return
		}
	}
	formats = append(formats, f)
}

// Registered returns the registered formats in registration order.
func Registered() []Format {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Clone(formats)
}

// Formats this package knows by their magic before any reader exists for
// them, so that Open can name what it found. A format package replaces its
// entry when it registers.
func init() {
	Register(Format{Name: "gguf", Exts: []string{".gguf"}, Sniff: func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("GGUF")) || bytes.HasPrefix(h, []byte("FUGG"))
	}})
	Register(Format{Name: "pytorch", Exts: []string{".pt", ".pth", ".bin", ".ckpt"}, Sniff: func(h []byte) bool {
		// Pickle protocol 2+ (legacy torch.save) starts with PROTO (0x80) then
		// the version and another opcode, never 0x00: a safetensors file
		// whose header length is 0x280, 0x380, 0x480 or 0x580 starts with
		// 0x80 0x0[2-5] 0x00 and must not be taken for a pickle. The zip
		// format's first entry is <name>/data.pkl or similar.
		if len(h) >= 3 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5 && h[2] != 0 {
			return true
		}
		return bytes.HasPrefix(h, []byte("PK\x03\x04")) && bytes.Contains(h, []byte("/"))
	}})
	Register(Format{Name: "onnx", Exts: []string{".onnx"}})
	Register(Format{Name: "numpy", Exts: []string{".npy", ".npz"}, Sniff: func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("\x93NUMPY"))
	}})
}

// Open opens a checkpoint: a file, a directory, or a Hugging Face hub cache
// reference (hf://org/name[@revision][/file]). Files are recognised by their
// content first and their extension second.
func Open(path string) (Reader, error) {
	if strings.HasPrefix(path, HFScheme) {
		resolved, err := ResolveHF(path)
		if err != nil {
			return nil, err
		}
		path = resolved
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	regs := Registered()
	if st.IsDir() {
		for _, f := range regs {
			if f.Dir != nil && f.Dir(path) {
				return openWith(f, path)
			}
		}
		return nil, fmt.Errorf("%s: no checkpoint found in directory (looked for %s): %w",
			path, formatNames(regs, func(f Format) bool { return f.Dir != nil }), ErrUnknownFormat)
	}
	head, err := readHead(path)
	if err != nil {
		return nil, err
	}
	for _, f := range regs {
		if f.Sniff != nil && f.Sniff(head) {
			return openWith(f, path)
		}
	}
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range regs {
		if slices.Contains(f.Exts, ext) {
			return openWith(f, path)
		}
	}
	return nil, fmt.Errorf("%s: not a checkpoint format mlmf recognises (known: %s): %w",
		path, formatNames(regs, func(Format) bool { return true }), ErrUnknownFormat)
}

func openWith(f Format, path string) (Reader, error) {
	if f.Open == nil {
		return nil, fmt.Errorf("%s: %s checkpoint recognised, but this build of mlmf cannot read %s yet: %w",
			path, f.Name, f.Name, ErrUnsupported)
	}
	return f.Open(path)
}

func readHead(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer fh.Close()
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(fh, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return head[:n], nil
}

func formatNames(regs []Format, keep func(Format) bool) string {
	var names []string
	for _, f := range regs {
		if keep(f) {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}
