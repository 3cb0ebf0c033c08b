"""Shared fixtures for the interop tests.

The reference Python libraries (safetensors, huggingface_hub, gguf, torch,
transformers, ml_dtypes) are oracles: they write files mlmf must read, and read
files mlmf writes. `make test-interop` passes the built binary in MLMF_BIN;
run alone, the session builds it.
"""

import importlib
import json
import os
import pathlib
import subprocess

import pytest


def _import_or_fail(modname, minversion=None, reason=None, **_):
    """Every oracle is pinned in requirements.txt and installed by `make venv`:
    a missing one fails the test instead of skipping it, so a broken venv
    can never pass as a green run."""
    return importlib.import_module(modname)


pytest.importorskip = _import_or_fail

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def mlmf_bin(tmp_path_factory) -> str:
    env_bin = os.environ.get("MLMF_BIN")
    if env_bin:
        assert os.access(env_bin, os.X_OK), f"MLMF_BIN={env_bin} is not executable"
        return env_bin
    out = tmp_path_factory.mktemp("bin") / "mlmf"
    subprocess.run(["go", "build", "-o", str(out), "./cmd/mlmf"], cwd=REPO, check=True)
    return str(out)


class Mlmf:
    def __init__(self, path: str):
        self.path = path

    def run(self, *args, check=True, env=None) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = subprocess.run([self.path, *map(str, args)], capture_output=True, text=True, env=full_env)
        if check and p.returncode != 0:
            raise AssertionError(f"mlmf {' '.join(map(str, args))} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def inspect(self, path, *extra, env=None) -> dict:
        return json.loads(self.run("inspect", path, "--json", *extra, env=env).stdout)


@pytest.fixture(scope="session")
def mlmf(mlmf_bin) -> Mlmf:
    return Mlmf(mlmf_bin)
