package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"mlmf/engine"
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
	req := engine.MetaEditRequest{Path: path}
	mode := ""
	for _, a := range args[1:] {
		switch a {
		case "set", "del":
			mode = a
			continue
		}
		switch mode {
		case "set":
			req.Set = append(req.Set, a)
		case "del":
			req.Del = append(req.Del, a)
		default:
			fmt.Fprintln(stderr, metaUsage)
			return errUsage
		}
	}
	res, err := engine.EditMeta(req)
	if err != nil {
		return err
	}
	how := "rewrote the file atomically"
	if res.InPlace {
		how = "rewrote the header in place"
	}
	fmt.Fprintf(stdout, "%s: %d set, %d deleted (%s)\n", path, res.Set, res.Deleted, how)
	return nil
}

func typeName(kv gguf.KV) string {
	if el, ok := kv.Elem(); ok {
		return "array[" + strings.ToLower(el.String()) + "]"
	}
	return kv.Type.String()
}
