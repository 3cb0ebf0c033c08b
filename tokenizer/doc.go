package tokenizer

// Where this package differs from convert_hf_to_gguf.py and gguf-py on
// purpose (everything else follows them; the interop tests compare):
//
//   - tokenizer.ggml.pre for byte-level BPE is derived from the
//     pre-tokenizer's definition (DetectPre), not from a hash of the
//     encodings of a test text, so unseen tokenizers with a known definition
//     convert, and unknown definitions are refused with their regexes shown.
//   - A special token id outside the vocabulary, or a special token string
//     that is nowhere in the vocabulary, is an error (ErrSpecialToken);
//     SpecialVocab logs a warning and drops it. A token string that is in the
//     model vocab but not among the added tokens is used; SpecialVocab leaves
//     the id unset and llama.cpp falls back to a per-model default.
//   - For a SentencePiece model without tokenizer.json, SpecialVocab finds
//     special ids in config.json only and the converter writes no others;
//     llama.cpp then uses its load-time defaults ("llama": unk 0, bos 1,
//     eos 2, no pad; "t5": eos 1, unk 2, pad 0, no bos). Here the missing
//     ids come from the model's trainer_spec, and those llama.cpp would use
//     anyway are left out of the GGUF, as the converter does: the usual
//     LLaMA/Mistral layout (unk 0, bos 1, eos 2, no pad) gives the
//     converter's metadata, and a "llama" vocabulary never gets an unk id
//     from the trainer_spec (llama.cpp's SPM tokenizer falls back to byte
//     tokens and never reads it). Written, and different from the
//     converter's file, are bos/eos/pad ids that differ from the defaults —
//     Gemma's layout (pad 0, eos 1, bos 2) in a checkpoint whose config.json
//     does not name them, where llama.cpp would otherwise prepend <eos> as
//     BOS — and a unigram model's ids that differ from T5's (a model
//     trained with sentencepiece's defaults, unk 0, bos 1, eos 2, where
//     llama.cpp would emit </s> for unknown text). TestTrainerSpecIDs and
//     tests/interop/test_export_spm.py show both cases. FromKVs, reading a
//     GGUF, fills the ids a file leaves out with llama.cpp's defaults (and
//     KVs leaves them out again), so a GGUF → HF export names the tokens
//     llama.cpp uses.
//   - A byte-fallback BPE tokenizer.json without tokenizer.model (gguf-py's
//     LlamaHfVocab) scores each token by the rank of the merge that makes it
//     (-rank) instead of a flat -1000, so llama.cpp's score-ordered merging
//     follows the BPE merge order.
//   - convert_hf_to_gguf.py re-encodes non-normalized added tokens through
//     transformers (decode(encode(token))); here they are kept as written,
//     which is the same for the special tokens that use the flag.
//   - Named chat templates are listed in tokenizer.chat_templates in sorted
//     order (gguf-py writes a set, in arbitrary order).
//   - A byte-level BPE whose pre-tokenizer makes llama.cpp add BOS by default
//     (llama-bpe, tekken, chameleon) gets add_bos_token=false written when
//     neither the post-processor nor tokenizer_config.json asks for BOS, as
//     transformers then adds none.
//   - special_tokens_map.json supplies token strings tokenizer_config.json
//     lacks (as transformers does); SpecialVocab does not read it.
//   - A SentencePiece BPE model whose normalizer_spec has
//     add_dummy_prefix=false gets tokenizer.ggml.add_space_prefix=false
//     (llama.cpp's default is true); the converter does this per
//     architecture (Gemma). A byte-fallback BPE tokenizer.json takes it
//     from its Metaspace prepend_scheme, or from the absence of both
//     Metaspace and a Prepend normalizer.
//   - Unigram models get T5Model.set_vocab's add_bos=false/add_eos=true;
//     other per-architecture tweaks of the converter (Gemma's
//     add_space_prefix=false, say) are the caller's: set the Vocab fields
//     before writing.
//
// The encoder splits with hand-written versions of the GPT-2, LLaMA-3 and
// Qwen2 regexes (as llama.cpp's unicode.cpp does) and with Go's RE2 for the
// other pre-tokenizers of the table, their Perl classes made Unicode-aware
// as in Oniguruma and the \s+(?!\S) lookahead tail emulated; only
// superbpe and jais-2, whose regexes need more lookaround, are refused.
// The deepseek-llm letter class holds characters that Unicode normalisation
// changes (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A); they are written
// as escapes so no editor can fold them.
//
// The encoder follows llama.cpp (which follows sentencepiece for
// SentencePiece models), except for unigram models with byte tokens, where
// it follows sentencepiece's byte fallback (llama.cpp emits <unk>).
// NewHFEncoder follows the tokenizers library where it differs from llama.cpp
// (Metaspace prefix rules). WordPiece vocabularies encode as llama.cpp's WPM
// tokenizer does (greedy longest match after its BERT pre-tokenization, with
// the tokenizer.ggml.normalizer.* flags; NFD from golang.org/x/text).
