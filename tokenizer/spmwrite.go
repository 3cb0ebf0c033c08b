package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Marshal serializes the model as a ModelProto that sentencepiece loads:
// the pieces, the trainer_spec fields SPModel holds and the normalizer_spec.
func (m *SPModel) Marshal() []byte {
	var b []byte
	for _, p := range m.Pieces {
		var pb []byte
		pb = appendBytesField(pb, 1, []byte(p.Piece))
		pb = appendKey(pb, 2, 5)
		pb = binary.LittleEndian.AppendUint32(pb, math.Float32bits(p.Score))
		if p.Type != TokenNormal {
			pb = appendVarintField(pb, 3, uint64(p.Type))
		}
		b = appendBytesField(b, 1, pb)
	}
	var ts []byte
	ts = appendVarintField(ts, 3, uint64(m.ModelType))
	ts = appendVarintField(ts, 4, uint64(int64(m.VocabSize)))
	ts = appendBoolField(ts, 24, m.TreatWhitespaceAsSuffix)
	ts = appendBoolField(ts, 25, m.SplitDigits)
	ts = appendBoolField(ts, 35, m.ByteFallback)
	ts = appendVarintField(ts, 40, uint64(int64(m.UnkID)))
	ts = appendVarintField(ts, 41, uint64(int64(m.BosID)))
	ts = appendVarintField(ts, 42, uint64(int64(m.EosID)))
	ts = appendVarintField(ts, 43, uint64(int64(m.PadID)))
	ts = appendBytesField(ts, 45, []byte(m.UnkPiece))
	ts = appendBytesField(ts, 46, []byte(m.BosPiece))
	ts = appendBytesField(ts, 47, []byte(m.EosPiece))
	ts = appendBytesField(ts, 48, []byte(m.PadPiece))
	b = appendBytesField(b, 2, ts)
	var ns []byte
	ns = appendBytesField(ns, 1, []byte(m.NormalizerName))
	if len(m.PrecompiledCharsmap) > 0 {
		ns = appendBytesField(ns, 2, m.PrecompiledCharsmap)
	}
	ns = appendBoolField(ns, 3, m.AddDummyPrefix)
	ns = appendBoolField(ns, 4, m.RemoveExtraWhitespaces)
	ns = appendBoolField(ns, 5, m.EscapeWhitespaces)
	b = appendBytesField(b, 3, ns)
	return b
}

func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendKey(b, field, 0), v)
}

func appendBoolField(b []byte, field int, v bool) []byte {
	if v {
		return appendVarintField(b, field, 1)
	}
	return appendVarintField(b, field, 0)
}

func appendBytesField(b []byte, field int, data []byte) []byte {
	b = binary.AppendUvarint(appendKey(b, field, 2), uint64(len(data)))
	return append(b, data...)
}

// SentencePieceFromVocab rebuilds a tokenizer.model from a llama (BPE) or t5
// (unigram) vocabulary, for GGUF → HF exports that want the slow
// SentencePiece tokenizer too. Token types carry over; the scores are the
// GGUF's.
func SentencePieceFromVocab(v *Vocab) (*SPModel, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	m := &SPModel{UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
		NormalizerName: "identity", EscapeWhitespaces: true, AddDummyPrefix: true}
	switch v.Model {
	case ModelLlama:
		m.ModelType = SPBPE
	case ModelT5:
		m.ModelType = SPUnigram
		m.PrecompiledCharsmap = v.PrecompiledCharsmap
		m.RemoveExtraWhitespaces = v.RemoveExtraWhitespaces == nil || *v.RemoveExtraWhitespaces
	default:
		return nil, fmt.Errorf("tokenizer: a %q vocabulary has no SentencePiece form: %w", v.Model, ErrUnsupported)
	}
	if v.AddSpacePrefix != nil {
		m.AddDummyPrefix = *v.AddSpacePrefix
	}
	seen := make(map[string]bool, len(v.Tokens))
	m.Pieces = make([]SPPiece, len(v.Tokens))
	for i, t := range v.Tokens {
		if seen[t] {
			return nil, fmt.Errorf("tokenizer: token %d %q appears twice; SentencePiece needs unique pieces: %w", i, t, ErrUnsupported)
		}
		seen[t] = true
		var s float32
		if v.Scores != nil {
			s = v.Scores[i]
		}
		m.Pieces[i] = SPPiece{Piece: t, Score: s, Type: v.Types[i]}
		if v.Types[i] == TokenByte {
			m.ByteFallback = true
		}
	}
	m.VocabSize = int32(len(m.Pieces))
	ids := []*int32{&m.UnkID, &m.BosID, &m.EosID, &m.PadID}
	for k, id := range []int32{v.UNK, v.BOS, v.EOS, v.PAD} {
		*ids[k] = id // NoToken (-1) disables the piece, as in sentencepiece
	}
	if m.UnkID < 0 {
		return nil, fmt.Errorf("tokenizer: SentencePiece needs an unknown token and the vocabulary has none: %w", ErrUnsupported)
	}
	for k, id := range []int32{m.UnkID, m.BosID, m.EosID, m.PadID} {
		if id >= 0 {
			p := m.Pieces[id].Piece
			switch k {
			case 0:
				m.UnkPiece = p
			case 1:
				m.BosPiece = p
			case 2:
				m.EosPiece = p
			case 3:
				m.PadPiece = p
			}
		}
	}
	return m, nil
}
