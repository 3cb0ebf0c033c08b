package quant

import (
	"mlmf/formats/gguf"
)

// QuantVersion is GGML_QNT_VERSION, written as general.quantization_version.
const QuantVersion = 2

// ImatrixInfo describes the importance matrix used, for the quantize.imatrix.*
// keys llama-quantize records.
type ImatrixInfo struct {
	File       string   // path as given to --imatrix
	Datasets   []string // the matrix's datasets; the first is recorded
	Entries    int      // entries after --include/--exclude-weights
	ChunkCount int      // recorded when > 0
}

// OutputMetadata returns the metadata llama-quantize writes for a model
// with metadata in: the input's KVs in order, then general.quantization_version
// and general.file_type (each moved to the end: gguf_set_val removes a key
// and appends it), without the split.* keys, then the --override-kv KVs
// (as ParseOverride returns them) and, with an importance matrix, the
// quantize.imatrix.* keys, each set the same way.
func OutputMetadata(in []gguf.KV, ft FileType, overrides []gguf.KV, im *ImatrixInfo) []gguf.KV {
	out := append([]gguf.KV(nil), in...)
	set := func(kv gguf.KV) {
		out, _ = gguf.DeleteKV(out, kv.Key)
		out = append(out, kv)
	}
	set(gguf.Uint32("general.quantization_version", QuantVersion))
	set(gguf.Uint32("general.file_type", uint32(ft)))
	for _, k := range []string{gguf.KeySplitNo, gguf.KeySplitCount, gguf.KeySplitTensorsCount} {
		out, _ = gguf.DeleteKV(out, k)
	}
	for _, kv := range overrides {
		set(kv)
	}
	if im != nil {
		// quantize.cpp copies these into 128-byte buffers (127 bytes kept).
		trunc := func(s string) string {
			if len(s) > 127 {
				return s[:127]
			}
			return s
		}
		set(gguf.String("quantize.imatrix.file", trunc(im.File)))
		if len(im.Datasets) > 0 {
			set(gguf.String("quantize.imatrix.dataset", trunc(im.Datasets[0])))
		}
		set(gguf.Uint32("quantize.imatrix.entries_count", uint32(abs(im.Entries))))
		if im.ChunkCount > 0 {
			set(gguf.Uint32("quantize.imatrix.chunks_count", uint32(im.ChunkCount)))
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
