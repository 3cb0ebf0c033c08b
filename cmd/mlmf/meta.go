package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"mlmf/formats/gguf"
)

const metaUsage = `usage: mlmf meta FILE                       list the metadata
       mlmf meta FILE get KEY               print one value in full
       mlmf meta FILE set KEY=TYPE:VALUE …  set keys (TYPE: int, float, bool, str)
       mlmf meta FILE del KEY …             delete keys
set and del may be combined in one call; the file is rewritten atomically,
or only its header in place when the new header has the same size.`

func runMeta(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, metaUsage)
		return errUsage
	}
	path := args[0]
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	kvs := f.KVs()
	f.Close()
	if len(args) == 1 {
		for _, kv := range kvs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", kv.Key, typeName(kv), kv.Format(8, 100))
		}
		return nil
	}
	verb, rest := args[1], args[2:]
	if verb == "get" {
		if len(rest) != 1 {
			fmt.Fprintln(stderr, metaUsage)
			return errUsage
		}
		for _, kv := range kvs {
			if kv.Key == rest[0] {
				if s, ok := kv.Value.(string); ok {
					fmt.Fprintln(stdout, s)
					return nil
				}
				b, err := json.Marshal(kv.Value)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, string(b))
				return nil
			}
		}
		return fmt.Errorf("meta: %s: no key %q", path, rest[0])
	}
	var set []gguf.KV
	var del []string
	mode := ""
	for _, a := range args[1:] {
		switch a {
		case "set", "del":
			mode = a
			continue
		}
		switch mode {
		case "set":
			kv, err := gguf.ParseOverride(a)
			if err != nil {
				return fmt.Errorf("meta: %w", err)
			}
			set = append(set, keepExistingType(kv, kvs))
		case "del":
			found := false
			for _, kv := range kvs {
				found = found || kv.Key == a
			}
			if !found {
				return fmt.Errorf("meta: %s: no key %q to delete", path, a)
			}
			del = append(del, a)
		default:
			fmt.Fprintln(stderr, metaUsage)
			return errUsage
		}
	}
	// In place when the header keeps its size, else an atomic rewrite.
	inPlace, err := gguf.EditInPlace(path, set, del)
	if err != nil {
		return err
	}
	how := "rewrote the file atomically"
	if inPlace {
		how = "rewrote the header in place"
	}
	fmt.Fprintf(stdout, "%s: %d set, %d deleted (%s)\n", path, len(set), len(del), how)
	return nil
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

func typeName(kv gguf.KV) string {
	if el, ok := kv.Elem(); ok {
		return "array[" + strings.ToLower(el.String()) + "]"
	}
	return kv.Type.String()
}
