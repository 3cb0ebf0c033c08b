package engine

import (
	"fmt"
	"strings"

	"mlmf/formats/gguf"
)

// MetaEditRequest is `mlmf meta FILE set KEY=TYPE:VALUE … del KEY …`: the
// GGUF metadata edit the CLI and the TUI's Metadata pane share.
type MetaEditRequest struct {
	Path string
	// Set are llama.cpp overrides, KEY=TYPE:VALUE with TYPE int, float,
	// bool or str; an existing integer key keeps its integer type.
	Set []string
	// Del are keys to delete; each must exist.
	Del []string
}

// MetaEditResult says what an edit did.
type MetaEditResult struct {
	Set, Deleted int
	// InPlace is true when the header was rewritten in place (same size),
	// false when the file was rewritten atomically.
	InPlace bool
}

// EditMeta applies a metadata edit to a GGUF file: in place (journalled)
// when the header keeps its size, else by an atomic rewrite. Nothing is
// written when any part of the request is invalid.
func EditMeta(req MetaEditRequest) (*MetaEditResult, error) {
	f, err := gguf.Open(req.Path)
	if err != nil {
		return nil, err
	}
	kvs := f.KVs()
	f.Close()
	var set []gguf.KV
	for _, s := range req.Set {
		kv, err := gguf.ParseOverride(s)
		if err != nil {
			return nil, fmt.Errorf("meta: %s: %w", req.Path, err)
		}
		set = append(set, keepExistingType(kv, kvs))
	}
	for _, k := range req.Del {
		found := false
		for _, kv := range kvs {
			found = found || kv.Key == k
		}
		if !found {
			return nil, fmt.Errorf("meta: %s: no key %q to delete", req.Path, k)
		}
	}
	inPlace, err := gguf.EditInPlace(req.Path, set, req.Del)
	if err != nil {
		return nil, err
	}
	return &MetaEditResult{Set: len(set), Deleted: len(req.Del), InPlace: inPlace}, nil
}

// MetaEditType is the override TYPE (int, float, bool, str) that writes a
// metadata value of v's kind back, or "" for values an override cannot
// write (arrays).
func MetaEditType(v any) string {
	switch v.(type) {
	case uint8, int8, uint16, int16, uint32, int32, uint64, int64:
		return "int"
	case float32, float64:
		return "float"
	case bool:
		return "bool"
	case string:
		return "str"
	}
	return ""
}

// keepExistingType writes an int override with the integer type the key
// already has (tokenizer ids are uint32, some keys int32), as a user fixing
// a value expects; new keys get llama.cpp's override types.
func keepExistingType(kv gguf.KV, existing []gguf.KV) gguf.KV {
	v, ok := kv.Value.(uint32)
	if !ok {
		return kv
	}
	for _, e := range existing {
		if e.Key != kv.Key {
			continue
		}
		switch e.Type {
		case gguf.TypeUint8:
			if v <= 0xFF {
				return gguf.KV{Key: kv.Key, Type: e.Type, Value: uint8(v)}
			}
		case gguf.TypeUint16:
			if v <= 0xFFFF {
				return gguf.KV{Key: kv.Key, Type: e.Type, Value: uint16(v)}
			}
		case gguf.TypeInt32:
			if v <= 1<<31-1 {
				return gguf.KV{Key: kv.Key, Type: e.Type, Value: int32(v)}
			}
		case gguf.TypeUint64:
			return gguf.KV{Key: kv.Key, Type: e.Type, Value: uint64(v)}
		case gguf.TypeInt64:
			return gguf.KV{Key: kv.Key, Type: e.Type, Value: int64(v)}
		}
	}
	return kv
}

// CheckMetaSet validates one KEY=TYPE:VALUE override without writing
// anything, and returns its key. A negative int is refused: llama.cpp's
// override syntax writes its absolute value, which is never what someone
// editing a value means.
func CheckMetaSet(s string) (string, error) {
	kv, err := gguf.ParseOverride(s)
	if err != nil {
		return "", err
	}
	if _, rest, _ := strings.Cut(s, "="); strings.HasPrefix(rest, "int:") && strings.HasPrefix(strings.TrimSpace(rest[4:]), "-") {
		return "", fmt.Errorf("meta: %q: the override syntax writes a negative int as its absolute value; only values >= 0 can be set", s)
	}
	return kv.Key, nil
}
