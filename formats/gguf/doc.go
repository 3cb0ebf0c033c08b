// Package gguf reads and writes GGUF, the file format of llama.cpp, Ollama
// and LM Studio.
//
// Reading: NewReader parses the header of a file seen through an
// io.ReaderAt (GGUF v2 and v3; v1 is refused; big-endian files have their
// metadata read and their tensor data refused), Open memory-maps a file and
// presents the splits of a gguf-split model as one. Every count and length
// is checked against the bytes left before anything is allocated, tensor
// data ranges are checked (aligned, inside the file, not overlapping), and
// every error wraps ErrCorrupt, ErrUnsupported or ErrNotFound. Metadata
// keeps the file's order (KVs) with typed accessors; arrays are typed
// slices. TensorInfo.Shape is row-major (numpy's order); TensorInfo.NE is
// GGUF's innermost-first order.
//
// Writing: Write and WriteTo produce GGUF v3 with the KVs and tensors in
// the order given, data aligned to general.alignment (default 32) and each
// tensor padded, the last one too. For the same KVs and tensors the bytes
// are those of gguf-py's GGUFWriter (tests/interop/test_gguf.py checks it).
// WriteSplit cuts a model as gguf-split does. Edit and EditInPlace change
// metadata; ParseOverride reads llama.cpp's --override-kv syntax.
//
// Differences from the reference implementations, found while testing:
//   - gguf-py (0.19.0) sizes a Q8_1 block at 40 bytes; ggml's block_q8_1 is
//     36 (two fp16, 32 int8), which mlmf uses. A Q8_1 tensor written by
//     gguf-py has the wrong length for llama.cpp.
//   - gguf-py knows NVFP4 (40) and Q1_0 (41); mlmf's dtype table does not
//     yet, so such tensors are refused as unknown types.
//   - gguf-py writes split keys as split.no, split.count,
//     split.tensors.count; gguf-split leaves them as split.no,
//     split.tensors.count, split.count (its final gguf_set_val of
//     split.count removes and re-appends the key). WriteSplit follows
//     gguf-split. gguf-py also names a single shard without the
//     -00001-of-00001 suffix and leaves out the split keys; gguf-split and
//     WriteSplit do not.
//   - llama.cpp's writer stores ggml_n_dims dimensions (trailing ne of 1
//     dropped); gguf-py and this package store len(Shape). To reproduce a
//     llama.cpp-written header byte for byte, drop the leading 1s of the
//     row-major shape first.
//   - llama.cpp and gguf-py refuse a general.alignment that is not a
//     uint32; the reader accepts any unsigned integer, the writer only
//     uint32.
//   - llama.cpp refuses nested arrays; gguf-py writes and reads them, and
//     so does this package (to a depth of 8).
package gguf
