package gguf

import (
	"fmt"
	"math"
	"reflect"
)

// ValueType is the type tag of a GGUF metadata value (gguf_type).
type ValueType uint32

// Metadata value types, with the ids GGUF files use.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
	numTypes    ValueType = 13
)

var typeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32",
	"float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the type's name as gguf-py spells it, lower case ("uint32").
func (t ValueType) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// ParseValueType parses a name returned by ValueType.String.
func ParseValueType(s string) (ValueType, error) {
	for i, n := range typeNames {
		if n == s {
			return ValueType(i), nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown value type %q: %w", s, ErrUnsupported)
}

// size returns the encoded size of a scalar of type t, 0 for strings and
// arrays (variable).
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one encoded value of type t can take; counts
// are checked against it before anything is allocated.
func (t ValueType) minSize() int64 {
	switch t {
	case TypeString:
		return 8 // u64 length
	case TypeArray:
		return 12 // u32 element type + u64 count
	}
	return int64(t.size())
}

// KV is one metadata key-value pair.
//
// Value holds a Go value whose type matches Type:
//
//	uint8 int8 uint16 int16 uint32 int32 float32 bool string uint64 int64 float64
//
// and, for TypeArray, a typed slice of the element type ([]uint8 … []float64,
// []bool, []string), so a 150k-entry token list is one []string and a score
// list one []float32, not boxed values. An array of arrays is []any whose
// elements are themselves such slices (or []any again).
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// Elem returns the element type of an array value (TypeArray for nested
// arrays); ok is false when kv is not an array.
func (kv KV) Elem() (ValueType, bool) {
	if kv.Type != TypeArray {
		return 0, false
	}
	t, elem, err := typeOf(kv.Value)
	if err != nil || t != TypeArray {
		return 0, false
	}
	return elem, true
}

// Len returns the length of an array value, 0 for scalars.
func (kv KV) Len() int {
	if kv.Type != TypeArray || kv.Value == nil {
		return 0
	}
	v := reflect.ValueOf(kv.Value)
	if v.Kind() != reflect.Slice {
		return 0
	}
	return v.Len()
}

// typeOf maps a Go value to its GGUF type (and element type for arrays).
func typeOf(v any) (t, elem ValueType, err error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, nil
	case int8:
		return TypeInt8, 0, nil
	case uint16:
		return TypeUint16, 0, nil
	case int16:
		return TypeInt16, 0, nil
	case uint32:
		return TypeUint32, 0, nil
	case int32:
		return TypeInt32, 0, nil
	case float32:
		return TypeFloat32, 0, nil
	case bool:
		return TypeBool, 0, nil
	case string:
		return TypeString, 0, nil
	case uint64:
		return TypeUint64, 0, nil
	case int64:
		return TypeInt64, 0, nil
	case float64:
		return TypeFloat64, 0, nil
	case []uint8:
		return TypeArray, TypeUint8, nil
	case []int8:
		return TypeArray, TypeInt8, nil
	case []uint16:
		return TypeArray, TypeUint16, nil
	case []int16:
		return TypeArray, TypeInt16, nil
	case []uint32:
		return TypeArray, TypeUint32, nil
	case []int32:
		return TypeArray, TypeInt32, nil
	case []float32:
		return TypeArray, TypeFloat32, nil
	case []bool:
		return TypeArray, TypeBool, nil
	case []string:
		return TypeArray, TypeString, nil
	case []uint64:
		return TypeArray, TypeUint64, nil
	case []int64:
		return TypeArray, TypeInt64, nil
	case []float64:
		return TypeArray, TypeFloat64, nil
	case []any:
		return TypeArray, TypeArray, nil
	}
	return 0, 0, fmt.Errorf("gguf: value of Go type %T has no GGUF type: %w", v, ErrUnsupported)
}

// NewKV builds a KV from a Go value, inferring its type (see KV for the Go
// types allowed).
func NewKV(key string, v any) (KV, error) {
	t, _, err := typeOf(v)
	if err != nil {
		return KV{}, fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if t == TypeArray {
		if err := checkNested(v, 0); err != nil {
			return KV{}, fmt.Errorf("gguf: key %q: %w", key, err)
		}
	}
	return KV{Key: key, Type: t, Value: v}, nil
}

func checkNested(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("arrays nested deeper than %d: %w", maxDepth, ErrUnsupported)
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			t, _, err := typeOf(e)
			if err != nil {
				return err
			}
			if t != TypeArray {
				return fmt.Errorf("array of arrays holds a %s: %w", t, ErrUnsupported)
			}
			if err := checkNested(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Convenience constructors for the common types.

// String returns a string KV.
func String(key, v string) KV { return KV{key, TypeString, v} }

// Uint32 returns a uint32 KV.
func Uint32(key string, v uint32) KV { return KV{key, TypeUint32, v} }

// Int32 returns an int32 KV.
func Int32(key string, v int32) KV { return KV{key, TypeInt32, v} }

// Uint64 returns a uint64 KV.
func Uint64(key string, v uint64) KV { return KV{key, TypeUint64, v} }

// Float32 returns a float32 KV.
func Float32(key string, v float32) KV { return KV{key, TypeFloat32, v} }

// Bool returns a bool KV.
func Bool(key string, v bool) KV { return KV{key, TypeBool, v} }

// Strings returns a string-array KV.
func Strings(key string, v []string) KV { return KV{key, TypeArray, v} }

// Uint16 returns a uint16 KV.
func Uint16(key string, v uint16) KV { return KV{key, TypeUint16, v} }

// asUint converts an integer value to uint64 when it is non-negative.
func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// asInt converts an integer value to int64 when it fits.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}
