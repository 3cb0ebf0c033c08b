"""formats/cast against numpy + ml_dtypes on fresh random vectors.

Run from the repository root with the oracle venv:
    python -m pytest tests/interop/test_cast.py
Each run draws a new seed (printed on failure, and reusable through
MLMF_CAST_SEED) and also writes every pattern of the 16-bit source types.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN = ROOT / "tests" / "interop" / "gen_cast_vectors.py"


@pytest.fixture(scope="module")
def go():
    exe = shutil.which("go")
    if exe is None:
        pytest.skip("go toolchain not on PATH")
    return exe


def generate(out, seed, count, full):
    cmd = [sys.executable, str(GEN), str(out), "--seed", str(seed), "--count", str(count)]
    if full:
        cmd.append("--full")
    subprocess.run(cmd, check=True, cwd=ROOT)


def run_go(go, vectors):
    env = dict(os.environ, MLMF_CAST_VECTORS=str(vectors))
    return subprocess.run(
        [go, "test", "./formats/cast", "-run", "TestMLDtypesVectors", "-count=1"],
        cwd=ROOT, env=env, capture_output=True, text=True)


def test_fresh_vectors_bit_identical(go, tmp_path):
    seed = int(os.environ.get("MLMF_CAST_SEED") or int.from_bytes(os.urandom(4), "little"))
    generate(tmp_path, seed, count=8192, full=True)
    res = run_go(go, tmp_path)
    assert res.returncode == 0, f"seed {seed}:\n{res.stdout}\n{res.stderr}"
    assert "ok" in res.stdout


def test_go_test_catches_a_wrong_vector(go, tmp_path):
    """The Go check must fail when one expected bit is wrong."""
    generate(tmp_path, 7, count=64, full=False)
    path = tmp_path / "F32-BF16.dst.bin"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    res = run_go(go, tmp_path)
    assert res.returncode != 0
    assert "F32-BF16" in res.stdout


@pytest.mark.skipif(not os.environ.get("MLMF_CAST_EXHAUSTIVE"),
                    reason="set MLMF_CAST_EXHAUSTIVE=1: minutes of CPU")
def test_every_f32_input(go, tmp_path):
    """F32 -> F16/BF16/F8_E4M3/F8_E5M2 over all 2^32 inputs, by CRC-32."""
    digests = tmp_path / "f32.json"
    subprocess.run([sys.executable, str(GEN), str(digests), "--f32-digests"], check=True, cwd=ROOT)
    env = dict(os.environ, MLMF_CAST_F32_DIGESTS=str(digests))
    res = subprocess.run(
        [go, "test", "./formats/cast", "-run", "TestExhaustiveF32", "-count=1", "-v",
         "-timeout", "30m"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    assert res.stdout.count("all 2^32 inputs match") == 4
