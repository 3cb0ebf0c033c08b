package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// SentencePiece piece types, as in sentencepiece_model.proto. They share
// their numbering with llama.cpp's token types (TokenType).
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6
)

// SPModelType is TrainerSpec.model_type.
type SPModelType int32

// SentencePiece model types.
const (
	SPUnigram SPModelType = 1
	SPBPE     SPModelType = 2
	SPWord    SPModelType = 3
	SPChar    SPModelType = 4
)

func (t SPModelType) String() string {
	switch t {
	case SPUnigram:
		return "unigram"
	case SPBPE:
		return "bpe"
	case SPWord:
		return "word"
	case SPChar:
		return "char"
	}
	return fmt.Sprintf("model_type(%d)", int32(t))
}

// SPPiece is one entry of ModelProto.pieces.
type SPPiece struct {
	Piece string
	Score float32
	Type  TokenType // NORMAL unless the file says otherwise
}

// SPModel is the part of a SentencePiece ModelProto (tokenizer.model) that a
// vocabulary needs. Defaults follow sentencepiece_model.proto.
type SPModel struct {
	Pieces []SPPiece

	// TrainerSpec
	ModelType               SPModelType
	VocabSize               int32
	ByteFallback            bool
	SplitDigits             bool
	TreatWhitespaceAsSuffix bool
	UnkID, BosID, EosID     int32
	PadID                   int32
	UnkPiece, BosPiece      string
	EosPiece, PadPiece      string

	// NormalizerSpec
	NormalizerName         string
	PrecompiledCharsmap    []byte
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
}

// Limits on hostile input. A real tokenizer.model is a few MB with at most a
// few hundred thousand pieces.
const (
	maxSPFile   = 256 << 20
	maxSPPieces = 4 << 20
)

// ReadSentencePieceFile reads a tokenizer.model file.
func ReadSentencePieceFile(path string) (*SPModel, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tokenizer: %s: not a regular file: %w", path, ErrCorrupt)
	}
	if fi.Size() > maxSPFile {
		return nil, fmt.Errorf("tokenizer: %s: %d bytes is larger than the %d a SentencePiece model may have: %w", path, fi.Size(), maxSPFile, ErrCorrupt)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	m, err := ParseSentencePiece(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return m, nil
}

// ParseSentencePiece decodes a serialized ModelProto with a small protobuf
// decoder that checks every length against the bytes that remain.
func ParseSentencePiece(b []byte) (*SPModel, error) {
	m := &SPModel{
		ModelType: SPUnigram, UnkID: 0, BosID: 1, EosID: 2, PadID: -1,
		UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
		AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true,
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("sentencepiece: empty model: %w", ErrCorrupt)
	}
	err := walkProto(b, func(field int, wire int, v uint64, data []byte) error {
		switch {
		case field == 1 && wire == 2:
			if len(m.Pieces) >= maxSPPieces {
				return fmt.Errorf("sentencepiece: more than %d pieces: %w", maxSPPieces, ErrCorrupt)
			}
			p, err := parseSPPiece(data)
			if err != nil {
				return fmt.Errorf("sentencepiece: piece %d: %w", len(m.Pieces), err)
			}
			m.Pieces = append(m.Pieces, p)
		case field == 2 && wire == 2:
			return parseTrainerSpec(data, m)
		case field == 3 && wire == 2:
			return parseNormalizerSpec(data, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.Pieces) == 0 {
		return nil, fmt.Errorf("sentencepiece: no pieces: %w", ErrCorrupt)
	}
	return m, nil
}

func parseSPPiece(b []byte) (SPPiece, error) {
	p := SPPiece{Type: TokenNormal}
	err := walkProto(b, func(field, wire int, v uint64, data []byte) error {
		switch {
		case field == 1 && wire == 2:
			p.Piece = string(data)
		case field == 2 && wire == 5:
			p.Score = math.Float32frombits(uint32(v))
		case field == 3 && wire == 0:
			if v < spNormal || v > spByte {
				return fmt.Errorf("piece type %d: %w", v, ErrCorrupt)
			}
			p.Type = TokenType(v)
		}
		return nil
	})
	return p, err
}

func parseTrainerSpec(b []byte, m *SPModel) error {
	return walkProto(b, func(field, wire int, v uint64, data []byte) error {
		if wire == 0 {
			switch field {
			case 3:
				m.ModelType = SPModelType(int32(v))
			case 4:
				m.VocabSize = int32(v)
			case 24:
				m.TreatWhitespaceAsSuffix = v != 0
			case 25:
				m.SplitDigits = v != 0
			case 35:
				m.ByteFallback = v != 0
			case 40:
				m.UnkID = int32(v)
			case 41:
				m.BosID = int32(v)
			case 42:
				m.EosID = int32(v)
			case 43:
				m.PadID = int32(v)
			}
		} else if wire == 2 {
			switch field {
			case 45:
				m.UnkPiece = string(data)
			case 46:
				m.BosPiece = string(data)
			case 47:
				m.EosPiece = string(data)
			case 48:
				m.PadPiece = string(data)
			}
		}
		return nil
	})
}

func parseNormalizerSpec(b []byte, m *SPModel) error {
	return walkProto(b, func(field, wire int, v uint64, data []byte) error {
		switch {
		case field == 1 && wire == 2:
			m.NormalizerName = string(data)
		case field == 2 && wire == 2:
			m.PrecompiledCharsmap = append([]byte(nil), data...)
		case field == 3 && wire == 0:
			m.AddDummyPrefix = v != 0
		case field == 4 && wire == 0:
			m.RemoveExtraWhitespaces = v != 0
		case field == 5 && wire == 0:
			m.EscapeWhitespaces = v != 0
		}
		return nil
	})
}

// walkProto calls fn for every field of a protobuf message: v holds varint
// and fixed values, data the bytes of length-delimited fields (a view into b).
func walkProto(b []byte, fn func(field, wire int, v uint64, data []byte) error) error {
	for off := 0; off < len(b); {
		key, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("sentencepiece: bad field key at byte %d: %w", off, ErrCorrupt)
		}
		off += n
		field, wire := key>>3, int(key&7)
		if field == 0 || field > math.MaxInt32 {
			return fmt.Errorf("sentencepiece: field number %d at byte %d: %w", field, off, ErrCorrupt)
		}
		var v uint64
		var data []byte
		switch wire {
		case 0:
			v, n = binary.Uvarint(b[off:])
			if n <= 0 {
				return fmt.Errorf("sentencepiece: bad varint at byte %d: %w", off, ErrCorrupt)
			}
			off += n
		case 1:
			if len(b)-off < 8 {
				return fmt.Errorf("sentencepiece: truncated fixed64 at byte %d: %w", off, ErrCorrupt)
			}
			v = binary.LittleEndian.Uint64(b[off:])
			off += 8
		case 5:
			if len(b)-off < 4 {
				return fmt.Errorf("sentencepiece: truncated fixed32 at byte %d: %w", off, ErrCorrupt)
			}
			v = uint64(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		case 2:
			l, n := binary.Uvarint(b[off:])
			if n <= 0 {
				return fmt.Errorf("sentencepiece: bad length at byte %d: %w", off, ErrCorrupt)
			}
			off += n
			if l > uint64(len(b)-off) {
				return fmt.Errorf("sentencepiece: field %d of %d bytes at byte %d runs past the end (%d left): %w", field, l, off, len(b)-off, ErrCorrupt)
			}
			data = b[off : off+int(l)]
			off += int(l)
		default:
			return fmt.Errorf("sentencepiece: wire type %d at byte %d: %w", wire, off, ErrCorrupt)
		}
		if err := fn(int(field), wire, v, data); err != nil {
			return err
		}
	}
	return nil
}
