package safetensors

import "mlmf/formats"

// dtypes lists the element types a safetensors header may name, in the order
// of the reference implementation's Dtype enum (safetensors 0.8.0, Rust):
// the serializer sorts tensors by this rank, descending, then by name, so
// that the most strictly aligned types come first in the data buffer.
var dtypes = [...]formats.DType{
	formats.BOOL,
	formats.F4,
	formats.F6_E2M3,
	formats.F6_E3M2,
	formats.U8,
	formats.I8,
	formats.F8_E5M2,
	formats.F8_E4M3,
	formats.F8_E8M0,
	formats.F8_E4M3FNUZ,
	formats.F8_E5M2FNUZ,
	formats.I16,
	formats.U16,
	formats.F16,
	formats.BF16,
	formats.I32,
	formats.U32,
	formats.F32,
	formats.C64,
	formats.F64,
	formats.I64,
	formats.U64,
}

var (
	// dtypeByName maps the exact, case-sensitive header spelling ("BF16") to
	// the dtype. The reference rejects "bf16" and every ggml block type.
	dtypeByName = make(map[string]formats.DType, len(dtypes))
	// dtypeRank is the position of a dtype in the reference enum, -1 for
	// dtypes safetensors cannot store.
	dtypeRank [256]int8
)

func init() {
	for i := range dtypeRank {
		dtypeRank[i] = -1
	}
	for i, d := range dtypes {
		dtypeByName[d.String()] = d
		dtypeRank[d] = int8(i)
	}
}

// Supported reports whether safetensors can store tensors of dtype d.
func Supported(d formats.DType) bool { return dtypeRank[d] >= 0 }
