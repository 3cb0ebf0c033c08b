#!/usr/bin/env python3
"""Generate the tiny tokenizer fixtures under testdata/tokenizers/.

Each fixture is a checkpoint-style directory (tokenizer.json and/or
tokenizer.model, tokenizer_config.json, config.json) trained offline on a small
built-in corpus with the reference libraries (sentencepiece, tokenizers,
transformers), plus expected.json: the encodings of the shared prompt set by
those libraries. The Go tests read expected.json so they need no Python;
tests/interop/test_tokenizer.py regenerates everything with the live libraries
and compares again.

Usage: python tests/interop/gen_tokenizers.py [OUTDIR]   (default testdata/tokenizers)
"""

import io
import json
import os
import pathlib
import shutil
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]

# Prompts every fixture encodes: ASCII, digits, accents, CJK, emoji, leading
# and repeated spaces, newlines, contractions, and special tokens in the text.
PROMPTS = [
    "Hello world",
    "hello, world! How are you?",
    " leading space",
    "   three leading spaces",
    "trailing spaces   ",
    "Numbers: 1234567 and 3.14159",
    "I'm sure they've done it, it's John's.",
    "Café naïve résumé façade",
    "Grüße aus Köln",
    "日本語のテキスト",
    "中文测试",
    "emoji 🙂👍🏽 party 🎉",
    "line one\nline two\n\nline four",
    "tabs\tand\tmore",
    "MixedCASE wordsAndCamelCase",
    "",
    " ",
    "<s>",
    "ＦＵＬＬ　ｗｉｄｔｈ １２３ ﬁne\u00a0nbsp",
]

# Normalisation rules for the unigram fixture, compiled by sentencepiece into
# a small precompiled_charsmap: full-width ASCII to ASCII, the fi ligature,
# no-break and ideographic spaces to a space.
NORMALIZATION_TSV = "\n".join(
    [f"{0xFF01 + i:X}\t{0x21 + i:X}" for i in range(94)] + ["FB01\t66 69", "A0\t20", "3000\t20"]) + "\n"

CORPUS_LINES = [
    "Hello world, this is a tiny corpus for training tokenizers offline.",
    "hello there! How are you doing today? I'm fine, thanks.",
    "The quick brown fox jumps over the lazy dog 1234567890 times.",
    "Numbers like 3.14159 and 2.71828 appear in mathematics.",
    "They've said it's John's book, and we'll read it; you'd like it.",
    "Café, naïve, résumé and façade are borrowed French words.",
    "Grüße aus Köln und München, schöne Grüße!",
    "日本語のテキストを少し含めます。東京は大きな都市です。",
    "中文测试句子。我们在这里训练一个很小的分词器。",
    "Emoji are fun 🙂 👍 🎉 and so are parties.",
    "line one\nline two\nline three",
    "tabs\tand\tspaces    are whitespace",
    "MixedCASE words and CamelCaseIdentifiers in code: def foo_bar(x): return x + 1",
    "    indented code with four spaces",
    "The end. The end! The end? the end.",
]
# More text, made deterministically from a word list, so the trainers find
# a few hundred merges.
_WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they which one you were "
          "her all she there would their we him been has when who will more no if out so said what up its about into than "
          "them can only other new some could time these two may then do first any my now such like our over man me even "
          "most made after also did many before must through back years where much your way well down should because each "
          "just those people how too little state good very make world still own see men work long get here between both "
          "life being under never day same another know while last might us great old year off come since against go came "
          "right used take three tokenizer llama merge vocabulary sentence piece model training token byte level").split()


def _more_text(n: int) -> str:
    import random

    rng = random.Random(20261127)
    lines = []
    for _ in range(n):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 14))]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 99999)))
        lines.append(" ".join(words) + rng.choice([".", ",", "!", "?", "", "'s", " ..."]))
    return "\n".join(lines)


CORPUS = "\n".join(CORPUS_LINES * 4) + "\n" + _more_text(400)

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Pre-tokenizer regexes from the tokenizer.json files of the real families.
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# A regex no llama.cpp pre-tokenizer implements: words glued to trailing digits.
ODD_REGEX = r"\p{L}+\p{N}*|\s+|[^\s\p{L}]+"


def write_json(path: pathlib.Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def hf_encodings(tok_json: pathlib.Path) -> list:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_json))
    out = []
    for p in PROMPTS:
        enc = tok.encode(p, add_special_tokens=False)
        out.append({"text": p, "ids": enc.ids, "pieces": enc.tokens})
    return out


def train_spm(out: pathlib.Path, model_type: str, vocab_size: int, byte_fallback: bool, rules: str | None = None) -> pathlib.Path:
    import sentencepiece as spm

    buf = io.BytesIO()
    norm = {"normalization_rule_name": "identity"}
    if rules is not None:
        tsv = out / "rules.tsv"
        tsv.write_text(rules, encoding="utf-8")
        norm = {"normalization_rule_tsv": str(tsv)}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.split("\n")),
        model_writer=buf,
        model_type=model_type,
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=byte_fallback,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        **norm,
        user_defined_symbols=["<|im_start|>", "<|im_end|>"],
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1,
        seed_sentencepiece_size=1000,
        minloglevel=2,
    )
    path = out / "tokenizer.model"
    path.write_bytes(buf.getvalue())
    (out / "rules.tsv").unlink(missing_ok=True)
    return path


def spm_encodings(model: pathlib.Path) -> list:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    out = []
    for p in PROMPTS:
        ids = sp.encode(p)
        out.append({"text": p, "ids": ids, "pieces": [sp.id_to_piece(i) for i in ids]})
    return out


def gen_spm_bpe(root: pathlib.Path) -> None:
    """LLaMA-2 style: SentencePiece BPE with byte fallback; tokenizer.json made by transformers' conversion."""
    from transformers import AutoTokenizer

    out = root / "llama-spm"
    out.mkdir(parents=True)
    model = train_spm(out, "bpe", 700, True)
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "src"
        src.mkdir()
        shutil.copy(model, src / "tokenizer.model")
        write_json(src / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
                                                   "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "legacy": False})
        # transformers converts the SentencePiece model to tokenizer.json as LlamaTokenizerFast does.
        tok = AutoTokenizer.from_pretrained(str(src))
        tok.chat_template = CHAT_TEMPLATE
        tok.save_pretrained(str(pathlib.Path(tmp) / "dst"))
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(pathlib.Path(tmp) / "dst" / name, out / name)
    # A config.json whose vocab_size is larger than the model: the converter pads.
    n = len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    write_json(out / "config.json", {"model_type": "llama", "vocab_size": n + 3, "bos_token_id": 1, "eos_token_id": 2})
    write_json(out / "expected.json", {"spm": spm_encodings(model), "hf": hf_encodings(out / "tokenizer.json")})


def gen_spm_unigram(root: pathlib.Path) -> None:
    """T5 style: SentencePiece unigram, tokenizer.model only."""
    out = root / "t5-unigram"
    out.mkdir(parents=True)
    model = train_spm(out, "unigram", 440, True, rules=NORMALIZATION_TSV)
    write_json(out / "tokenizer_config.json", {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": None, "add_bos_token": False})
    write_json(out / "expected.json", {"spm": spm_encodings(model)})


def train_bytelevel(pre_tokenizer, vocab_size: int, specials: list, ignore_merges: bool = False, normalizer=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.split("\n"), trainer=trainer)
    tok.add_special_tokens(specials)
    return tok


def save_hf_dir(out: pathlib.Path, tok, config: dict, tok_config: dict) -> None:
    out.mkdir(parents=True)
    tok.save(str(out / "tokenizer.json"))
    write_json(out / "tokenizer_config.json", tok_config)
    write_json(out / "config.json", config)
    write_json(out / "expected.json", {"hf": hf_encodings(out / "tokenizer.json")})


def gen_bytelevel(root: pathlib.Path) -> None:
    from tokenizers import AddedToken, Regex, normalizers, pre_tokenizers, processors

    # GPT-2: ByteLevel with its built-in regex.
    tok = train_bytelevel(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), 420,
                          [AddedToken("<|endoftext|>", special=True)])
    save_hf_dir(root / "gpt2", tok,
                {"model_type": "gpt2", "vocab_size": tok.get_vocab_size(), "bos_token_id": tok.token_to_id("<|endoftext|>"), "eos_token_id": tok.token_to_id("<|endoftext|>")},
                {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": False,
                 "tokenizer_class": "GPT2Tokenizer"})

    # LLaMA-3: Split(llama3 regex) + ByteLevel without regex, ignore_merges, BOS added by the post-processor.
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    specials = [AddedToken("<|begin_of_text|>", special=True), AddedToken("<|end_of_text|>", special=True),
                AddedToken("<|start_header_id|>", special=True), AddedToken("<|end_header_id|>", special=True),
                AddedToken("<|eot_id|>", special=True), AddedToken("<think>", special=False)]
    tok = train_bytelevel(pre, 430, specials, ignore_merges=True)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    save_hf_dir(root / "llama3", tok,
                {"model_type": "llama", "vocab_size": tok.get_vocab_size() + 2, "bos_token_id": bos, "eos_token_id": [tok.token_to_id("<|end_of_text|>"), tok.token_to_id("<|eot_id|>")]},
                {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": CHAT_TEMPLATE,
                 "tokenizer_class": "PreTrainedTokenizerFast"})

    # Qwen2: NFC normalizer, Split(qwen2 regex) + ByteLevel without regex.
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    specials = [AddedToken("<|endoftext|>", special=True), AddedToken("<|im_start|>", special=True), AddedToken("<|im_end|>", special=True)]
    tok = train_bytelevel(pre, 430, specials, normalizer=normalizers.NFC())
    save_hf_dir(root / "qwen2", tok,
                {"model_type": "qwen2", "vocab_size": tok.get_vocab_size(), "eos_token_id": tok.token_to_id("<|im_end|>")},
                {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
                 "chat_template": [{"name": "default", "template": CHAT_TEMPLATE}, {"name": "tool_use", "template": "{{ messages }}"}],
                 "errors": "replace", "tokenizer_class": "Qwen2Tokenizer"})

    # StarCoder-like: Digits(individual) + ByteLevel(use_regex): a definition llama.cpp implements
    # whose hash convert_hf_to_gguf.py cannot know (freshly trained vocabulary).
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok = train_bytelevel(pre, 420, [AddedToken("<|endoftext|>", special=True), AddedToken("<fim_prefix>", special=True)])
    save_hf_dir(root / "starcoder-like", tok,
                {"model_type": "starcoder2", "vocab_size": tok.get_vocab_size()},
                {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": False})

    # A pre-tokenizer llama.cpp does not implement: mlmf must refuse it.
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(ODD_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok = train_bytelevel(pre, 400, [AddedToken("<|endoftext|>", special=True)])
    save_hf_dir(root / "odd-pre", tok, {"model_type": "gpt2", "vocab_size": tok.get_vocab_size()},
                {"eos_token": "<|endoftext|>"})


def gen_wordpiece(root: pathlib.Path) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(CORPUS.split("\n"), trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    save_hf_dir(root / "bert-wordpiece", tok, {"model_type": "bert", "vocab_size": tok.get_vocab_size(), "pad_token_id": 0},
                {"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                 "do_lower_case": True, "tokenizer_class": "BertTokenizer"})


# ---- reference KVs: convert_hf_to_gguf.py's vocabulary logic, ported ----
# convert_hf_to_gguf.py is not installable; these functions follow its
# _create_vocab_sentencepiece, get_vocab_base, _set_vocab_gpt2 and
# BertModel.set_vocab, and use gguf-py's own SpecialVocab for the special
# tokens, add_* flags, merges and chat template.

def _looks_special(t: str) -> bool:
    return (t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
            or (t.startswith("<\uff5c") and t.endswith("\uff5c>")) or (t.startswith("<unused") and t.endswith(">")))


def _special_kvs(d: pathlib.Path, kvs: dict, n_vocab, load_merges: bool) -> None:
    import gguf

    sv = gguf.SpecialVocab(d, load_merges=load_merges, n_vocab=n_vocab)
    if sv.merges:
        kvs["tokenizer.ggml.merges"] = list(sv.merges)
    names = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
             "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"}
    for typ, tid in sv.special_token_ids.items():
        if typ in names:  # gguf-py has no handler for cls
            kvs["tokenizer.ggml." + names[typ]] = tid
    for typ, val in sv.add_special_token.items():
        kvs[f"tokenizer.ggml.add_{typ}_token"] = val
    ct = sv.chat_template
    if isinstance(ct, str):
        kvs["tokenizer.chat_template"] = ct
    elif isinstance(ct, list):
        names_ = []
        for c in ct:
            name = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in c.get("name", ""))
            if name == "default":
                kvs["tokenizer.chat_template"] = c["template"]
            elif name:
                kvs["tokenizer.chat_template." + name] = c["template"]
                names_.append(name)
        if names_:
            kvs["tokenizer.chat_templates"] = sorted(set(names_))


def _normalizer_kvs(d: pathlib.Path, kvs: dict) -> None:
    """The normalizer flags the gguf-py vendored in llama.cpp (the pinned
    sdist) writes (SpecialVocab._parse_normalizer); PyPI gguf 0.19.0 predates
    them. test_tokenizer.test_normalizer_flags_match_vendored_gguf_py checks
    this port against the vendored code itself."""
    f = d / "tokenizer.json"
    if not f.is_file():
        return
    flags = {}

    def parse(n):
        t = n.get("type")
        if t == "Lowercase":
            flags["lowercase"] = True
        elif t == "StripAccents":
            flags["strip_accents"] = True
        elif t == "BertNormalizer":
            for k in ("lowercase", "strip_accents"):
                if k in n:
                    flags[k] = n[k]
        elif t == "Sequence":
            for x in n.get("normalizers", []):
                parse(x)

    if norm := json.loads(f.read_text(encoding="utf-8")).get("normalizer"):
        parse(norm)
    for k in ("lowercase", "strip_accents"):
        if flags.get(k) is not None:
            kvs["tokenizer.ggml.normalizer." + k] = flags[k]


def reference_kvs_spm(d: pathlib.Path) -> dict:
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    sp = spm.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
    proto = pb.ModelProto()
    proto.ParseFromString((d / "tokenizer.model").read_bytes())
    cfg = json.loads((d / "config.json").read_text()) if (d / "config.json").is_file() else {}
    vocab_size = cfg.get("vocab_size") or sp.vocab_size()
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [5] * vocab_size
    for i in range(min(sp.vocab_size(), vocab_size)):
        t = 1
        if sp.IsUnknown(i):
            t = 2
        elif sp.IsControl(i):
            t = 3
        elif sp.IsUnused(i):
            t = 5
        elif sp.IsByte(i):
            t = 6
        tokens[i], scores[i], types[i] = sp.IdToPiece(i), sp.GetScore(i), t
    tc = d / "tokenizer_config.json"
    if tc.is_file():
        for tid, data in json.loads(tc.read_text()).get("added_tokens_decoder", {}).items():
            tid = int(tid)
            if tid >= vocab_size:
                continue
            tok = data["content"]
            if data.get("special") or _looks_special(tok):
                types[tid] = 3
            else:
                tok = tok.replace("\u2581", " ")
                types[tid] = 4
            scores[tid], tokens[tid] = -1000.0, tok
    unigram = proto.trainer_spec.model_type == 1
    kvs = {"tokenizer.ggml.model": "t5" if unigram else "llama", "tokenizer.ggml.pre": "default",
           "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.scores": scores, "tokenizer.ggml.token_type": types}
    if unigram:
        kvs["tokenizer.ggml.add_space_prefix"] = proto.normalizer_spec.add_dummy_prefix
        kvs["tokenizer.ggml.remove_extra_whitespaces"] = proto.normalizer_spec.remove_extra_whitespaces
        if proto.normalizer_spec.precompiled_charsmap:
            kvs["tokenizer.ggml.precompiled_charsmap"] = list(proto.normalizer_spec.precompiled_charsmap)
    _special_kvs(d, kvs, len(tokens), False)
    _normalizer_kvs(d, kvs)
    # mlmf's documented difference: ids SpecialVocab leaves unset come from
    # the model's trainer_spec, unless llama.cpp's load-time default for the
    # tokenizer model would do the same (then, as the converter, none is
    # written). A "llama" (SPM) vocabulary's unk id is never read by llama.cpp.
    defaults = {"t5": {"unknown_token_id": 2, "eos_token_id": 1, "padding_token_id": 0},
                "llama": {"bos_token_id": 1, "eos_token_id": 2}}[kvs["tokenizer.ggml.model"]]
    for key, tid in (("unknown_token_id", sp.unk_id()), ("bos_token_id", sp.bos_id()), ("eos_token_id", sp.eos_id()), ("padding_token_id", sp.pad_id())):
        if "tokenizer.ggml." + key in kvs or not 0 <= tid < len(tokens):
            continue
        if defaults.get(key) == tid or (key == "unknown_token_id" and not unigram):
            continue
        kvs["tokenizer.ggml." + key] = tid
    if unigram:
        kvs["tokenizer.ggml.add_bos_token"] = False
        kvs["tokenizer.ggml.add_eos_token"] = True
    return kvs


def reference_kvs_base(d: pathlib.Path, model: str, pre: str) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(d))
    cfg = json.loads((d / "config.json").read_text())
    vocab_size = cfg.get("vocab_size", len(tok.vocab))
    reverse = {i: t for t, i in tok.vocab.items()}
    added = tok.get_added_vocab()
    decoder = tok.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(5)
            continue
        t = reverse[i]
        if t in added:
            if decoder[i].special or _looks_special(t):
                types.append(3)
            else:
                t = t.replace("\u2581", " ")
                types.append(4)
        else:
            types.append(1)
        tokens.append(t)
    kvs = {"tokenizer.ggml.model": model, "tokenizer.ggml.pre": pre}
    if model == "bert":
        kvs["tokenizer.ggml.token_type_count"] = cfg.get("type_vocab_size", 1)
        tokens = [t if y == 3 else (t[2:] if t.startswith("##") else "\u2581" + t) for t, y in zip(tokens, types)]
    kvs["tokenizer.ggml.tokens"] = tokens
    kvs["tokenizer.ggml.token_type"] = types
    _special_kvs(d, kvs, len(tokens) if model == "bert" else None, model == "gpt2")
    _normalizer_kvs(d, kvs)
    return kvs


def main() -> None:
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "testdata" / "tokenizers"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    write_json(root / "prompts.json", PROMPTS)
    gen_spm_bpe(root)
    gen_spm_unigram(root)
    gen_bytelevel(root)
    gen_wordpiece(root)
    refs = {"llama-spm": None, "t5-unigram": None, "gpt2": ("gpt2", "gpt-2"), "llama3": ("gpt2", "llama-bpe"),
            "qwen2": ("gpt2", "qwen2"), "starcoder-like": ("gpt2", "starcoder"), "bert-wordpiece": ("bert", "default")}
    for name, how in refs.items():
        d = root / name
        kvs = reference_kvs_spm(d) if how is None else reference_kvs_base(d, *how)
        exp = json.loads((d / "expected.json").read_text())
        exp["kvs"] = kvs
        write_json(d / "expected.json", exp)


if __name__ == "__main__":
    main()
