package gguf

import (
	"fmt"
	"strconv"
	"strings"
)

// Format renders the value for display: strings quoted (cut after
// maxString bytes), arrays with at most maxItems elements followed by
// "… (N × type)". maxItems and maxString <= 0 mean no limit.
func (kv KV) Format(maxItems, maxString int) string {
	var b strings.Builder
	formatValue(&b, kv.Value, maxItems, maxString)
	return b.String()
}

func quote(s string, maxString int) string {
	if maxString > 0 && len(s) > maxString {
		cut := maxString
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xc0 != 0x80 }

func formatValue(b *strings.Builder, v any, maxItems, maxString int) {
	switch x := v.(type) {
	case string:
		b.WriteString(quote(x, maxString))
		return
	case float32:
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
		return
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		return
	case uint8, int8, uint16, int16, uint32, int32, uint64, int64, bool:
		fmt.Fprint(b, x)
		return
	}
	_, elem, err := typeOf(v)
	if err != nil {
		fmt.Fprintf(b, "%v", v)
		return
	}
	n := KV{Type: TypeArray, Value: v}.Len()
	show := n
	if maxItems > 0 && show > maxItems {
		show = maxItems
	}
	b.WriteByte('[')
	for i := 0; i < show; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		formatValue(b, index(v, i), maxItems, maxString)
	}
	if show < n {
		fmt.Fprintf(b, ", … (%d × %s)", n, elem)
	}
	b.WriteByte(']')
}

func index(v any, i int) any {
	switch a := v.(type) {
	case []uint8:
		return a[i]
	case []int8:
		return a[i]
	case []uint16:
		return a[i]
	case []int16:
		return a[i]
	case []uint32:
		return a[i]
	case []int32:
		return a[i]
	case []float32:
		return a[i]
	case []bool:
		return a[i]
	case []string:
		return a[i]
	case []uint64:
		return a[i]
	case []int64:
		return a[i]
	case []float64:
		return a[i]
	case []any:
		return a[i]
	}
	return nil
}

// BitsPerWeight returns the model's effective bits per weight: tensor data
// bits over elements, all tensors counted (what llama.cpp prints as BPW).
func (f *File) BitsPerWeight() float64 {
	var bytes, elems float64
	for _, t := range f.infos {
		bytes += float64(t.Size)
		elems += float64(t.NumElements())
	}
	if elems == 0 {
		return 0
	}
	return bytes * 8 / elems
}
