"""The CLI over GGUF: `mlmf inspect` reads what gguf-py writes, and files
edited with `mlmf meta set/del` read back in gguf-py with the change and the
tensor data intact."""

import hashlib

import gguf
import numpy as np

RNG = np.random.default_rng(7)


def write_model(path):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_block_count(2)
    w.add_context_length(256)
    w.add_eos_token_id(2)
    w.add_token_list([f"tok{i}" for i in range(40)])
    w.add_chat_template("{{ messages }}")
    w.add_key_value("test.int32", -5, gguf.GGUFValueType.INT32)
    tensors = {
        "token_embd.weight": RNG.standard_normal((40, 64)).astype(np.float32),
        "blk.0.attn_q.weight": RNG.standard_normal((64, 64)).astype(np.float16),
        "output_norm.weight": np.ones(64, np.float32),
    }
    for name, a in tensors.items():
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors


def test_inspect_reads_gguf_py_file(mlmf, tmp_path):
    path = tmp_path / "m.gguf"
    tensors = write_model(path)
    s = mlmf.inspect(path, "--hash")
    assert s["format"] == "gguf"
    assert s["metadata"]["general.architecture"] == "llama"
    assert s["metadata"]["llama.block_count"] == 2
    got = {t["name"]: t for t in s["tensors"]}
    for name, a in tensors.items():
        assert got[name]["dtype"] == {"float32": "F32", "float16": "F16"}[a.dtype.name]
        assert got[name]["shape"] == list(a.shape)
        assert got[name]["sha256"] == hashlib.sha256(a.tobytes()).hexdigest()
    expected_bpw = 8 * sum(a.nbytes for a in tensors.values()) / sum(a.size for a in tensors.values())
    assert abs(s["bits_per_weight"] - expected_bpw) < 1e-9
    text = mlmf.run("inspect", path).stdout
    line = next(l for l in text.splitlines() if "tokenizer.ggml.tokens" in l)
    assert "tok39" not in line and "40" in line, line  # long arrays are summarised


def test_meta_set_and_del_read_back_by_gguf_py(mlmf, tmp_path):
    path = tmp_path / "m.gguf"
    tensors = write_model(path)
    before = gguf.GGUFReader(str(path))
    data_before = {t.name: bytes(t.data.tobytes()) for t in before.tensors}
    template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}" * 3
    out = mlmf.run("meta", path, "set", "tokenizer.ggml.eos_token_id=int:7", f"tokenizer.chat_template=str:{template}",
                   "test.new=float:0.5", "test.int32=int:9", "del", "llama.context_length").stdout
    assert "4 set, 1 deleted" in out, out
    r = gguf.GGUFReader(str(path))
    f = r.fields
    assert "llama.context_length" not in f
    eos = f["tokenizer.ggml.eos_token_id"]
    assert eos.types == [gguf.GGUFValueType.UINT32] and eos.contents() == 7
    assert f["tokenizer.chat_template"].contents() == template
    assert abs(f["test.new"].contents() - 0.5) < 1e-7 and f["test.new"].types == [gguf.GGUFValueType.FLOAT32]
    # An existing int32 key keeps its type.
    assert f["test.int32"].types == [gguf.GGUFValueType.INT32] and f["test.int32"].contents() == 9
    assert {t.name: bytes(t.data.tobytes()) for t in r.tensors} == data_before
    assert mlmf.run("meta", path, "get", "tokenizer.ggml.eos_token_id").stdout.strip() == "7"
    # A same-size edit is done in place.
    out = mlmf.run("meta", path, "set", "tokenizer.ggml.eos_token_id=int:8").stdout
    assert "in place" in out
    assert gguf.GGUFReader(str(path)).fields["tokenizer.ggml.eos_token_id"].contents() == 8
    p = mlmf.run("meta", path, "del", "no.such.key", check=False)
    assert p.returncode != 0 and "no.such.key" in p.stderr
