package tokenizer

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestTrainerSpecIDs: for a SentencePiece model without tokenizer.json, the
// special ids SpecialVocab cannot find come from the trainer_spec, and KVs
// writes only those llama.cpp would not use anyway (its load-time defaults;
// a "llama" vocabulary's unk id is never read), so that the metadata is
// convert_hf_to_gguf.py's wherever llama.cpp behaves the same with it.
// tests/interop/test_export_spm.py runs both through llama.cpp.
func TestTrainerSpecIDs(t *testing.T) {
	t.Parallel()
	// reorder puts the named pieces first, as special pieces with the given
	// roles (unk, bos, eos, pad; -1 for none), keeping the others in order.
	type layout struct {
		pieces             []SPPiece
		unk, bos, eos, pad int32
	}
	ctl := func(s string) SPPiece { return SPPiece{Piece: s, Type: TokenControl} }
	unk := SPPiece{Piece: "<unk>", Type: TokenUnknown}
	for _, tc := range []struct {
		name, fixture string
		layout        *layout // nil: the fixture's (unk 0, bos 1, eos 2, pad none)
		wantIDs       [4]int32
		want          map[string]uint32 // id KVs written
	}{
		{"llama defaults", "llama-spm", nil, [4]int32{0, 1, 2, NoToken}, map[string]uint32{}},
		// Gemma's layout: llama.cpp would take 1 (<eos>) for BOS, 2 (<bos>)
		// for EOS and no pad without the keys.
		{"llama gemma layout", "llama-spm",
			&layout{[]SPPiece{ctl("<pad>"), ctl("<eos>"), ctl("<bos>"), unk}, 3, 2, 1, 0},
			[4]int32{3, 2, 1, 0}, map[string]uint32{KeyBOS: 2, KeyEOS: 1, KeyPAD: 0}},
		// sentencepiece's own defaults differ from llama.cpp's t5 ones
		// (eos 1, unk 2, pad 0), which unigram tokenization uses.
		{"t5 sentencepiece defaults", "t5-unigram", nil, [4]int32{0, 1, 2, NoToken},
			map[string]uint32{KeyUNK: 0, KeyBOS: 1, KeyEOS: 2}},
		{"t5 layout", "t5-unigram",
			&layout{[]SPPiece{ctl("<pad>"), ctl("</s>"), unk}, 2, NoToken, 1, 0},
			[4]int32{2, NoToken, 1, 0}, map[string]uint32{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyFixture(t, tc.fixture)
			for _, f := range []string{"tokenizer.json", "config.json", "expected.json"} {
				if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			if tc.layout != nil {
				p := filepath.Join(dir, "tokenizer.model")
				m, err := ReadSentencePieceFile(p)
				if err != nil {
					t.Fatal(err)
				}
				rest := m.Pieces[3:] // the fixtures' <unk> <s> </s>
				m.Pieces = append(append([]SPPiece(nil), tc.layout.pieces...), rest...)
				m.UnkID, m.BosID, m.EosID, m.PadID = tc.layout.unk, tc.layout.bos, tc.layout.eos, tc.layout.pad
				m.VocabSize = int32(len(m.Pieces))
				if err := os.WriteFile(p, m.Marshal(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			v, err := FromDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := [4]int32{v.UNK, v.BOS, v.EOS, v.PAD}; got != tc.wantIDs {
				t.Errorf("unk, bos, eos, pad = %v, want %v", got, tc.wantIDs)
			}
			got := idKVs(v)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("id KVs = %v, want %v", got, tc.want)
			}
			// Read back as llama.cpp reads the file: the left-out ids are
			// its defaults, and they stay left out.
			w, err := FromKVs(v.KVs())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w.KVs(), v.KVs()) {
				t.Errorf("FromKVs → KVs changed the metadata")
			}
			for typ, d := range llamaCppDefaults[v.Model] {
				for _, s := range w.specials() {
					if s.typ == typ && s.key != "" {
						if _, written := got[s.key]; !written && *s.id != d {
							t.Errorf("read back: %s = %d, want llama.cpp's default %d", typ, *s.id, d)
						}
					}
				}
			}
			// An id the caller changes is written.
			v.EOS = 7
			if idKVs(v)[KeyEOS] != 7 {
				t.Errorf("eos set to 7 by the caller: not written")
			}
		})
	}
}

func idKVs(v *Vocab) map[string]uint32 {
	out := map[string]uint32{}
	for _, kv := range v.KVs() {
		switch kv.Key {
		case KeyUNK, KeyBOS, KeyEOS, KeyPAD, KeySEP, KeyMASK, KeyEOT, KeyEOM:
			out[kv.Key] = kv.Value.(uint32)
		}
	}
	return out
}
