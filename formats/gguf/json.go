package gguf

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// JSON form of a KV, lossless (used by mlmf's inspect/meta output and by the
// interop tests):
//
//	{"key": "general.name", "type": "string", "value": "tiny"}
//
// Integers are JSON numbers; floats are the hex of their little-endian bytes
// ("0000803f" for float32 1.0), so NaN payloads and -0 survive; strings are
// JSON strings when valid UTF-8 and {"hex": "…"} otherwise; arrays are
// {"elem": "int32", "values": […]}, recursively for arrays of arrays.

type jsonKV struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type jsonArray struct {
	Elem   string            `json:"elem"`
	Values []json.RawMessage `json:"values"`
}

// MarshalJSON implements json.Marshaler.
func (kv KV) MarshalJSON() ([]byte, error) {
	v, err := valueJSON(kv.Value)
	if err != nil {
		return nil, fmt.Errorf("gguf: key %q: %w", kv.Key, err)
	}
	return json.Marshal(jsonKV{Key: kv.Key, Type: kv.Type.String(), Value: v})
}

func f32hex(f float32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
	return hex.EncodeToString(b[:])
}

func f64hex(f float64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(f))
	return hex.EncodeToString(b[:])
}

func strJSON(s string) any {
	if utf8.ValidString(s) {
		return s
	}
	return map[string]string{"hex": hex.EncodeToString([]byte(s))}
}

func valueJSON(v any) (json.RawMessage, error) {
	var x any
	switch t := v.(type) {
	case float32:
		x = f32hex(t)
	case float64:
		x = f64hex(t)
	case string:
		x = strJSON(t)
	case uint8, int8, uint16, int16, uint32, int32, uint64, int64, bool:
		x = t
	default:
		_, elem, err := typeOf(v)
		if err != nil {
			return nil, err
		}
		arr := jsonArray{Elem: elem.String(), Values: []json.RawMessage{}}
		var each func(i int) any
		n := KV{Type: TypeArray, Value: v}.Len()
		switch a := v.(type) {
		case []uint8:
			each = func(i int) any { return a[i] }
		case []int8:
			each = func(i int) any { return a[i] }
		case []uint16:
			each = func(i int) any { return a[i] }
		case []int16:
			each = func(i int) any { return a[i] }
		case []uint32:
			each = func(i int) any { return a[i] }
		case []int32:
			each = func(i int) any { return a[i] }
		case []float32:
			each = func(i int) any { return a[i] }
		case []bool:
			each = func(i int) any { return a[i] }
		case []string:
			each = func(i int) any { return a[i] }
		case []uint64:
			each = func(i int) any { return a[i] }
		case []int64:
			each = func(i int) any { return a[i] }
		case []float64:
			each = func(i int) any { return a[i] }
		case []any:
			each = func(i int) any { return a[i] }
		}
		for i := 0; i < n; i++ {
			e, err := valueJSON(each(i))
			if err != nil {
				return nil, err
			}
			arr.Values = append(arr.Values, e)
		}
		x = arr
	}
	return json.Marshal(x)
}

// UnmarshalJSON implements json.Unmarshaler for the form MarshalJSON writes.
func (kv *KV) UnmarshalJSON(b []byte) error {
	var j jsonKV
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := ParseValueType(j.Type)
	if err != nil {
		return err
	}
	v, err := parseJSONValue(t, j.Value, 0)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", j.Key, err)
	}
	*kv = KV{Key: j.Key, Type: t, Value: v}
	return nil
}

func parseHexFloat(raw json.RawMessage, n int) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("float must be the hex of its little-endian bytes: %w", err)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("float %q must be %d hex bytes", s, n)
	}
	return b, nil
}

func parseJSONValue(t ValueType, raw json.RawMessage, depth int) (any, error) {
	dec := func(p any) error {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		return d.Decode(p)
	}
	switch t {
	case TypeUint8:
		var x uint8
		return x, dec(&x)
	case TypeInt8:
		var x int8
		return x, dec(&x)
	case TypeUint16:
		var x uint16
		return x, dec(&x)
	case TypeInt16:
		var x int16
		return x, dec(&x)
	case TypeUint32:
		var x uint32
		return x, dec(&x)
	case TypeInt32:
		var x int32
		return x, dec(&x)
	case TypeUint64:
		var x uint64
		return x, dec(&x)
	case TypeInt64:
		var x int64
		return x, dec(&x)
	case TypeBool:
		var x bool
		return x, dec(&x)
	case TypeFloat32:
		b, err := parseHexFloat(raw, 4)
		if err != nil {
			return nil, err
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case TypeFloat64:
		b, err := parseHexFloat(raw, 8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case TypeString:
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, nil
		}
		var h struct{ Hex string }
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(h.Hex)
		return string(b), err
	case TypeArray:
		if depth > maxDepth {
			return nil, fmt.Errorf("arrays nested deeper than %d: %w", maxDepth, ErrUnsupported)
		}
		var a jsonArray
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		et, err := ParseValueType(a.Elem)
		if err != nil {
			return nil, err
		}
		vals := make([]any, len(a.Values))
		for i, r := range a.Values {
			if vals[i], err = parseJSONValue(et, r, depth+1); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return typedSlice(et, vals), nil
	}
	return nil, fmt.Errorf("unknown type %v", t)
}

// typedSlice converts boxed values of type et into the typed slice KV uses.
func typedSlice(et ValueType, vals []any) any {
	switch et {
	case TypeUint8:
		return collect[uint8](vals)
	case TypeInt8:
		return collect[int8](vals)
	case TypeUint16:
		return collect[uint16](vals)
	case TypeInt16:
		return collect[int16](vals)
	case TypeUint32:
		return collect[uint32](vals)
	case TypeInt32:
		return collect[int32](vals)
	case TypeFloat32:
		return collect[float32](vals)
	case TypeBool:
		return collect[bool](vals)
	case TypeString:
		return collect[string](vals)
	case TypeUint64:
		return collect[uint64](vals)
	case TypeInt64:
		return collect[int64](vals)
	case TypeFloat64:
		return collect[float64](vals)
	}
	return vals
}

func collect[T any](vals []any) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = v.(T)
	}
	return out
}
