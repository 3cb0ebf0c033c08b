"""`mlmf quantize` against llama.cpp's own `llama_model_quantize` (from the
pinned llama-cpp-python): for each preset, the same input F32 GGUF gives the
same tensor types, the same tensor bytes and the same metadata."""

import ctypes
import os

import gguf
import numpy as np
import pytest

import llama_cpp  # the pinned oracle; a missing install fails the tests, never skips

RNG = np.random.default_rng(11)
N_EMBD, N_FF, N_LAYER, N_VOCAB = 256, 512, 4, 320


def write_llama_f32(path, dtype=np.float32):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(512)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(N_EMBD // 4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == np.float32 else gguf.LlamaFileType.MOSTLY_F16)

    def t(name, *shape, norm=False):
        a = np.ones(shape, np.float32) if norm else (RNG.standard_normal(shape) * 0.02).astype(np.float32)
        w.add_tensor(name, a if norm else a.astype(dtype))

    t("token_embd.weight", N_VOCAB, N_EMBD)
    for i in range(N_LAYER):
        t(f"blk.{i}.attn_norm.weight", N_EMBD, norm=True)
        t(f"blk.{i}.attn_q.weight", N_EMBD, N_EMBD)
        t(f"blk.{i}.attn_k.weight", N_EMBD // 2, N_EMBD)
        t(f"blk.{i}.attn_v.weight", N_EMBD // 2, N_EMBD)
        t(f"blk.{i}.attn_output.weight", N_EMBD, N_EMBD)
        t(f"blk.{i}.ffn_norm.weight", N_EMBD, norm=True)
        t(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD)
        t(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD)
        t(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF)
    t("output_norm.weight", N_EMBD, norm=True)
    t("output.weight", N_VOCAB, N_EMBD)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


FTYPES = {  # preset name -> LLAMA_FTYPE_* id
    "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12,
    "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "F16": 1, "BF16": 32,
}


def llama_quantize(src, dst, ftype, pure=False):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    p.pure = pure
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p))
    assert rc == 0, f"llama_model_quantize failed with {rc}"


def tensors_of(path):
    r = gguf.GGUFReader(str(path))
    return r, {t.name: (t.tensor_type.name, bytes(t.data.tobytes())) for t in r.tensors}


@pytest.fixture(scope="module")
def f32_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "f32.gguf"
    write_llama_f32(path)
    return path


@pytest.mark.parametrize("preset", list(FTYPES))
def test_preset_matches_llama_quantize(mlmf, f32_model, tmp_path, preset):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", f32_model, ours, "--type", preset, "--quiet")
    llama_quantize(f32_model, theirs, FTYPES[preset])
    r_ours, t_ours = tensors_of(ours)
    r_theirs, t_theirs = tensors_of(theirs)
    assert list(t_ours) == list(t_theirs), "tensor order differs"
    for name in t_theirs:
        assert t_ours[name][0] == t_theirs[name][0], f"{name}: type {t_ours[name][0]} vs llama.cpp {t_theirs[name][0]}"
        if t_ours[name][1] != t_theirs[name][1]:
            a, b = np.frombuffer(t_ours[name][1], np.uint8), np.frombuffer(t_theirs[name][1], np.uint8)
            raise AssertionError(f"{name} ({t_theirs[name][0]}): {np.count_nonzero(a != b)} of {len(a)} bytes differ")
    keys_ours = {k: f.contents() for k, f in r_ours.fields.items() if not k.startswith("GGUF.")}
    keys_theirs = {k: f.contents() for k, f in r_theirs.fields.items() if not k.startswith("GGUF.")}
    assert keys_ours == keys_theirs


def test_pure_q4_k_matches_llama_quantize(mlmf, f32_model, tmp_path):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", f32_model, ours, "--type", "Q4_K_M", "--pure", "--quiet")
    llama_quantize(f32_model, theirs, FTYPES["Q4_K_M"], pure=True)
    assert tensors_of(ours)[1] == tensors_of(theirs)[1]


def test_quantized_model_loads_and_generates_in_llama_cpp(mlmf, f32_model, tmp_path):
    """llama.cpp loads mlmf's Q4_K_M file and evaluates tokens with it."""
    out = tmp_path / "q.gguf"
    mlmf.run("quantize", f32_model, out, "--type", "Q4_K_M", "--quiet")
    # llama.cpp needs a vocabulary to run a model: copy mlmf's tensors
    # byte for byte into a file that adds a tiny SentencePiece vocabulary
    # (vocabulary export is issue 6's work).
    r = gguf.GGUFReader(str(out))
    w = gguf.GGUFWriter(str(tmp_path / "q-vocab.gguf"), "llama")
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        w.add_key_value(k, f.contents(), f.types[0] if len(f.types) == 1 else gguf.GGUFValueType.ARRAY,
                        sub_type=f.types[-1] if len(f.types) > 1 else None)
    w.add_tokenizer_model("llama")
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + [f"▁t{i}" for i in range(N_VOCAB - 259)]
    w.add_token_list(toks)
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (N_VOCAB - 259))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for t in r.tensors:
        w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    llm = llama_cpp.Llama(model_path=str(tmp_path / "q-vocab.gguf"), n_ctx=64, verbose=False, logits_all=True)
    llm.eval([1, 300, 301, 302])
    logits = np.array(llm.scores[:4])
    assert logits.shape == (4, N_VOCAB) and np.isfinite(logits).all()
    out_ids = llm.generate([1, 300], temp=0.0)
    first = next(out_ids)
    assert 0 <= first < N_VOCAB


@pytest.fixture(scope="module")
def f16_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("q16") / "f16.gguf"
    write_llama_f32(path, dtype=np.float16)
    return path


@pytest.mark.parametrize("preset", ["Q8_0", "Q4_K_M", "Q5_0", "Q6_K", "BF16"])
def test_preset_from_f16_matches_llama_quantize(mlmf, f16_model, tmp_path, preset):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", f16_model, ours, "--type", preset, "--quiet")
    llama_quantize(f16_model, theirs, FTYPES[preset])
    assert tensors_of(ours)[1] == tensors_of(theirs)[1]
