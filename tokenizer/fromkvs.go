package tokenizer

import (
	"fmt"
	"math"
	"strings"
)

// FromKVs rebuilds a Vocab from GGUF key/values (the reverse of KVs), for
// GGUF → HF exports and for encoding with a GGUF's vocabulary. Special ids
// the keys leave out are llama.cpp's defaults for the tokenizer model
// ("llama": bos 1, eos 2, unk 0; "t5": eos 1, unk 2, pad 0), which KVs
// leaves out again. Keys outside
// tokenizer.* are ignored. Integer values may come in any Go integer type
// and arrays as []int32, []uint32, []int64, []any and so on, as a GGUF
// reader hands them out.
func FromKVs(kvs []KV) (*Vocab, error) {
	v := newVocab("")
	var haveTypes bool
	for _, kv := range kvs {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		var err error
		switch kv.Key {
		case KeyModel:
			v.Model, err = kvString(kv)
		case KeyPre:
			v.Pre, err = kvString(kv)
		case KeyTokens:
			v.Tokens, err = kvStrings(kv)
		case KeyMerges:
			v.Merges, err = kvStrings(kv)
		case KeyScores:
			var fs []float64
			fs, err = kvFloats(kv)
			v.Scores = make([]float32, len(fs))
			for i, f := range fs {
				v.Scores[i] = float32(f)
			}
		case KeyTokenType:
			var is []int64
			is, err = kvInts(kv)
			v.Types = make([]TokenType, len(is))
			for i, t := range is {
				if t < int64(TokenNormal) || t > int64(TokenByte) {
					return nil, fmt.Errorf("tokenizer: %s[%d] = %d is not a token type: %w", kv.Key, i, t, ErrCorrupt)
				}
				v.Types[i] = TokenType(t)
			}
			haveTypes = true
		case KeyTokenTypeCount:
			var n int64
			n, err = kvInt(kv)
			v.TokenTypeCount = uint32(n)
		case KeyBOS, KeyEOS, KeyEOT, KeyEOM, KeyUNK, KeySEP, KeyPAD, KeyMASK:
			var n int64
			n, err = kvInt(kv)
			if err == nil && (n < 0 || n > math.MaxInt32) {
				err = fmt.Errorf("tokenizer: %s = %d: %w", kv.Key, n, ErrSpecialToken)
			}
			for _, s := range v.specials() {
				if s.key == kv.Key {
					*s.id = int32(n)
				}
			}
		case KeyAddBOS, KeyAddEOS, KeyAddSEP, KeyAddSpacePrefix, KeyRemoveExtraWS, KeyNormLowercase, KeyNormStrip:
			b, ok := kv.Value.(bool)
			if !ok {
				err = fmt.Errorf("tokenizer: %s is %T, not bool: %w", kv.Key, kv.Value, ErrCorrupt)
			}
			switch kv.Key {
			case KeyAddBOS:
				v.AddBOS = boolp(b)
			case KeyAddEOS:
				v.AddEOS = boolp(b)
			case KeyAddSEP:
				v.AddSEP = boolp(b)
			case KeyAddSpacePrefix:
				v.AddSpacePrefix = boolp(b)
			case KeyRemoveExtraWS:
				v.RemoveExtraWhitespaces = boolp(b)
			case KeyNormLowercase:
				v.NormLowercase = boolp(b)
			case KeyNormStrip:
				v.NormStripAccents = boolp(b)
			}
		case KeyCharsmap:
			var is []int64
			is, err = kvInts(kv)
			v.PrecompiledCharsmap = make([]byte, len(is))
			for i, x := range is {
				v.PrecompiledCharsmap[i] = byte(x)
			}
		case KeyChatTemplate:
			var s string
			s, err = kvString(kv)
			v.ChatTemplates = append(v.ChatTemplates, ChatTemplate{Template: s})
		case KeyChatTemplates:
			// the names; the templates come in their own keys
		default:
			if name, ok := strings.CutPrefix(kv.Key, KeyChatTemplate+"."); ok {
				var s string
				s, err = kvString(kv)
				v.ChatTemplates = append(v.ChatTemplates, ChatTemplate{Name: name, Template: s})
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if v.Model == "" {
		return nil, fmt.Errorf("tokenizer: no %s key: %w", KeyModel, ErrNotFound)
	}
	if !haveTypes && v.Tokens != nil {
		v.Types = make([]TokenType, len(v.Tokens))
		for i := range v.Types {
			v.Types[i] = TokenNormal
		}
	}
	// Several templates: the unnamed one is the default.
	if len(v.ChatTemplates) > 1 {
		for i := range v.ChatTemplates {
			if v.ChatTemplates[i].Name == "" {
				v.ChatTemplates[i].Name = "default"
			}
		}
	}
	v.Source = "GGUF metadata"
	// The ids llama.cpp assumes when keys are absent (convert_hf_to_gguf.py
	// writes none for a SentencePiece model without tokenizer.json).
	v.applyLlamaCppDefaults()
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

func kvString(kv KV) (string, error) {
	s, ok := kv.Value.(string)
	if !ok {
		return "", fmt.Errorf("tokenizer: %s is %T, not a string: %w", kv.Key, kv.Value, ErrCorrupt)
	}
	return s, nil
}

func kvStrings(kv KV) ([]string, error) {
	switch x := kv.Value.(type) {
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("tokenizer: %s[%d] is %T, not a string: %w", kv.Key, i, e, ErrCorrupt)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("tokenizer: %s is %T, not a string array: %w", kv.Key, kv.Value, ErrCorrupt)
}

func toInt(x any) (int64, bool) {
	switch n := x.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}

func kvInt(kv KV) (int64, error) {
	n, ok := toInt(kv.Value)
	if !ok {
		return 0, fmt.Errorf("tokenizer: %s is %T, not an integer: %w", kv.Key, kv.Value, ErrCorrupt)
	}
	return n, nil
}

func kvInts(kv KV) ([]int64, error) {
	bad := fmt.Errorf("tokenizer: %s is %T, not an integer array: %w", kv.Key, kv.Value, ErrCorrupt)
	switch x := kv.Value.(type) {
	case []int32:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, nil
	case []uint8:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, nil
	case []int8:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, nil
	case []uint32:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, nil
	case []int64:
		return x, nil
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			n, ok := toInt(e)
			if !ok {
				return nil, bad
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, bad
}

func kvFloats(kv KV) ([]float64, error) {
	switch x := kv.Value.(type) {
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out, nil
	case []float64:
		return x, nil
	case []any:
		out := make([]float64, len(x))
		for i, e := range x {
			switch f := e.(type) {
			case float32:
				out[i] = float64(f)
			case float64:
				out[i] = f
			default:
				return nil, fmt.Errorf("tokenizer: %s[%d] is %T, not a float: %w", kv.Key, i, e, ErrCorrupt)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("tokenizer: %s is %T, not a float array: %w", kv.Key, kv.Value, ErrCorrupt)
}
