package formats

import (
	"fmt"
	"math/bits"
	"strings"
)

// DType is the element type of a tensor: a scalar type (one element per
// block) or a ggml block type (BlockSize elements packed into TypeSize bytes).
type DType uint8

// Scalar types, named as safetensors names them.
const (
	Invalid DType = iota
	BOOL
	U8
	I8
	I16
	U16
	I32
	U32
	I64
	U64
	F16
	BF16
	F32
	F64
	C64
	F8_E4M3
	F8_E5M2
	F8_E8M0
	F8_E4M3FNUZ
	F8_E5M2FNUZ
	F6_E2M3
	F6_E3M2
	F4

	// ggml block types (formats/ggml has the codecs).
	Q4_0
	Q4_1
	Q5_0
	Q5_1
	Q8_0
	Q8_1
	Q2_K
	Q3_K
	Q4_K
	Q5_K
	Q6_K
	Q8_K
	IQ2_XXS
	IQ2_XS
	IQ3_XXS
	IQ1_S
	IQ4_NL
	IQ3_S
	IQ2_S
	IQ4_XS
	IQ1_M
	TQ1_0
	TQ2_0
	MXFP4

	numDTypes
)

// Kind groups dtypes by how their elements are interpreted.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindBool
	KindUint
	KindInt
	KindFloat
	KindComplex
	KindQuant // ggml block-quantized
)

type dtypeInfo struct {
	name       string
	kind       Kind
	blockElems int // elements per block (1 for scalar types)
	blockBits  int // bits per block
	ggml       int // ggml type id, -1 when ggml has none
}

// noGGML marks dtypes without a ggml type id.
const noGGML = -1

var dtypeTable = [numDTypes]dtypeInfo{
	Invalid:     {"INVALID", KindInvalid, 0, 0, noGGML},
	BOOL:        {"BOOL", KindBool, 1, 8, noGGML},
	U8:          {"U8", KindUint, 1, 8, noGGML},
	I8:          {"I8", KindInt, 1, 8, 24},
	I16:         {"I16", KindInt, 1, 16, 25},
	U16:         {"U16", KindUint, 1, 16, noGGML},
	I32:         {"I32", KindInt, 1, 32, 26},
	U32:         {"U32", KindUint, 1, 32, noGGML},
	I64:         {"I64", KindInt, 1, 64, 27},
	U64:         {"U64", KindUint, 1, 64, noGGML},
	F16:         {"F16", KindFloat, 1, 16, 1},
	BF16:        {"BF16", KindFloat, 1, 16, 30},
	F32:         {"F32", KindFloat, 1, 32, 0},
	F64:         {"F64", KindFloat, 1, 64, 28},
	C64:         {"C64", KindComplex, 1, 64, noGGML},
	F8_E4M3:     {"F8_E4M3", KindFloat, 1, 8, noGGML},
	F8_E5M2:     {"F8_E5M2", KindFloat, 1, 8, noGGML},
	F8_E8M0:     {"F8_E8M0", KindFloat, 1, 8, noGGML},
	F8_E4M3FNUZ: {"F8_E4M3FNUZ", KindFloat, 1, 8, noGGML},
	F8_E5M2FNUZ: {"F8_E5M2FNUZ", KindFloat, 1, 8, noGGML},
	F6_E2M3:     {"F6_E2M3", KindFloat, 1, 6, noGGML},
	F6_E3M2:     {"F6_E3M2", KindFloat, 1, 6, noGGML},
	F4:          {"F4", KindFloat, 1, 4, noGGML},

	Q4_0:    {"Q4_0", KindQuant, 32, 18 * 8, 2},
	Q4_1:    {"Q4_1", KindQuant, 32, 20 * 8, 3},
	Q5_0:    {"Q5_0", KindQuant, 32, 22 * 8, 6},
	Q5_1:    {"Q5_1", KindQuant, 32, 24 * 8, 7},
	Q8_0:    {"Q8_0", KindQuant, 32, 34 * 8, 8},
	Q8_1:    {"Q8_1", KindQuant, 32, 36 * 8, 9},
	Q2_K:    {"Q2_K", KindQuant, 256, 84 * 8, 10},
	Q3_K:    {"Q3_K", KindQuant, 256, 110 * 8, 11},
	Q4_K:    {"Q4_K", KindQuant, 256, 144 * 8, 12},
	Q5_K:    {"Q5_K", KindQuant, 256, 176 * 8, 13},
	Q6_K:    {"Q6_K", KindQuant, 256, 210 * 8, 14},
	Q8_K:    {"Q8_K", KindQuant, 256, 292 * 8, 15},
	IQ2_XXS: {"IQ2_XXS", KindQuant, 256, 66 * 8, 16},
	IQ2_XS:  {"IQ2_XS", KindQuant, 256, 74 * 8, 17},
	IQ3_XXS: {"IQ3_XXS", KindQuant, 256, 98 * 8, 18},
	IQ1_S:   {"IQ1_S", KindQuant, 256, 50 * 8, 19},
	IQ4_NL:  {"IQ4_NL", KindQuant, 32, 18 * 8, 20},
	IQ3_S:   {"IQ3_S", KindQuant, 256, 110 * 8, 21},
	IQ2_S:   {"IQ2_S", KindQuant, 256, 82 * 8, 22},
	IQ4_XS:  {"IQ4_XS", KindQuant, 256, 136 * 8, 23},
	IQ1_M:   {"IQ1_M", KindQuant, 256, 56 * 8, 29},
	TQ1_0:   {"TQ1_0", KindQuant, 256, 54 * 8, 34},
	TQ2_0:   {"TQ2_0", KindQuant, 256, 66 * 8, 35},
	MXFP4:   {"MXFP4", KindQuant, 32, 17 * 8, 39},
}

var (
	byName = map[string]DType{}
	byGGML = map[uint32]DType{}
)

func init() {
	for d := DType(1); d < numDTypes; d++ {
		info := dtypeTable[d]
		byName[info.name] = d
		if info.ggml >= 0 {
			byGGML[uint32(info.ggml)] = d
		}
	}
}

// AllDTypes lists every valid dtype in declaration order.
func AllDTypes() []DType {
	out := make([]DType, 0, numDTypes-1)
	for d := DType(1); d < numDTypes; d++ {
		out = append(out, d)
	}
	return out
}

// Valid reports whether d is a known dtype.
func (d DType) Valid() bool { return d > Invalid && d < numDTypes }

func (d DType) info() dtypeInfo {
	if d >= numDTypes {
		return dtypeTable[Invalid]
	}
	return dtypeTable[d]
}

// String returns the dtype's name (the safetensors spelling for scalar types,
// the ggml spelling for block types).
func (d DType) String() string {
	if d >= numDTypes {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return d.info().name
}

// Kind returns how elements of d are interpreted.
func (d DType) Kind() Kind { return d.info().kind }

// IsQuantized reports whether d is a ggml block-quantized type.
func (d DType) IsQuantized() bool { return d.info().kind == KindQuant }

// IsFloat reports whether d is a scalar floating-point type.
func (d DType) IsFloat() bool { return d.info().kind == KindFloat }

// Bits returns the size of one element in bits for scalar types and 0 for
// block types (see BitsPerWeight).
func (d DType) Bits() int {
	i := d.info()
	if i.blockElems != 1 {
		return 0
	}
	return i.blockBits
}

// BitsPerWeight returns the storage cost of one element in bits, fractional
// for block types (Q4_K: 4.5).
func (d DType) BitsPerWeight() float64 {
	i := d.info()
	if i.blockElems == 0 {
		return 0
	}
	return float64(i.blockBits) / float64(i.blockElems)
}

// BlockSize returns the number of elements in one block: 1 for scalar types.
func (d DType) BlockSize() int { return d.info().blockElems }

// TypeSize returns the bytes of one block for block types and of one element
// for byte-sized scalar types; sub-byte scalar types (F4, F6) return 0.
func (d DType) TypeSize() int {
	i := d.info()
	if i.blockBits%8 != 0 {
		return 0
	}
	return i.blockBits / 8
}

// GGML returns the ggml type id of d, if ggml has one.
func (d DType) GGML() (uint32, bool) {
	g := d.info().ggml
	if g < 0 {
		return 0, false
	}
	return uint32(g), true
}

// FromGGML returns the dtype of a ggml type id.
func FromGGML(id uint32) (DType, bool) {
	d, ok := byGGML[id]
	return d, ok
}

// ParseDType parses a dtype name, case-insensitively ("bf16", "Q4_K").
func ParseDType(name string) (DType, error) {
	if d, ok := byName[strings.ToUpper(name)]; ok {
		return d, nil
	}
	return Invalid, fmt.Errorf("unknown dtype %q: %w", name, ErrUnsupported)
}

// NumElements returns the product of shape's dimensions with overflow and
// negativity checks. An empty shape is a scalar with one element.
func NumElements(shape []int64) (int64, error) {
	n := uint64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v: %w", s, shape, ErrCorrupt)
		}
		hi, lo := bits.Mul64(n, uint64(s))
		if hi != 0 || lo > 1<<62 {
			return 0, fmt.Errorf("shape %v overflows: %w", shape, ErrCorrupt)
		}
		n = lo
	}
	return int64(n), nil
}

// ByteSize returns the number of bytes a tensor of this dtype and shape
// occupies, checking for overflow and, for block types, that the innermost
// dimension (the last one, in row-major order) is a multiple of the block size.
func (d DType) ByteSize(shape []int64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("invalid dtype %v: %w", d, ErrUnsupported)
	}
	n, err := NumElements(shape)
	if err != nil {
		return 0, err
	}
	i := d.info()
	if i.blockElems > 1 {
		if len(shape) > 0 && shape[len(shape)-1]%int64(i.blockElems) != 0 {
			return 0, fmt.Errorf("%v: row of %d elements is not a multiple of the block size %d: %w",
				d, shape[len(shape)-1], i.blockElems, ErrCorrupt)
		}
		if n%int64(i.blockElems) != 0 {
			return 0, fmt.Errorf("%v: %d elements is not a multiple of the block size %d: %w",
				d, n, i.blockElems, ErrCorrupt)
		}
	}
	hi, totalBits := bits.Mul64(uint64(n)/uint64(i.blockElems), uint64(i.blockBits))
	if hi != 0 || totalBits > 1<<62 {
		return 0, fmt.Errorf("shape %v of %v overflows: %w", shape, d, ErrCorrupt)
	}
	if totalBits%8 != 0 {
		return 0, fmt.Errorf("%v tensor of %d elements does not fill whole bytes: %w", d, n, ErrCorrupt)
	}
	return int64(totalBits / 8), nil
}
