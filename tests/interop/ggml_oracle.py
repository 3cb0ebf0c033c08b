"""ctypes access to libggml-base from the pinned llama-cpp-python wheel.

libggml-base holds ggml's reference quantizers (ggml-quants.c) and the type
traits; it is what llama-quantize runs. The library is the one shipped in
the installed `llama_cpp` package (llama_cpp/lib/), built from the sdist
with the flags recorded in requirements.txt. MLMF_LIBGGML may name another
libggml-base.so explicitly.

Nothing here skips: if the library cannot be found or loaded, load() raises
OracleUnavailable with what to do next, and the tests fail with it.
"""
from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass

import numpy as np


class OracleUnavailable(RuntimeError):
    pass


class _TypeTraits(ctypes.Structure):
    # struct ggml_type_traits (ggml.h)
    _fields_ = [
        ("type_name", ctypes.c_char_p),
        ("blck_size", ctypes.c_int64),
        ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t),
        ("is_quantized", ctypes.c_bool),
        ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


_ROW_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def _find_library() -> str:
    explicit = os.environ.get("MLMF_LIBGGML")
    if explicit:
        if not os.path.exists(explicit):
            raise OracleUnavailable(f"MLMF_LIBGGML={explicit} does not exist")
        return explicit
    try:
        import llama_cpp  # noqa: F401  (only to locate the package)
    except Exception as e:  # ImportError, or the package's own load errors
        raise OracleUnavailable(
            "cannot import llama_cpp: install the pinned oracle with "
            "`pip install -r tests/interop/requirements.txt` (see the build flags there): " + repr(e)
        ) from e
    pkg = os.path.dirname(llama_cpp.__file__)
    for pattern in ("lib/libggml-base.so*", "lib/libggml-base.dylib", "lib/ggml-base.dll",
                    "libggml-base.so*", "**/libggml-base.so*"):
        hits = sorted(glob.glob(os.path.join(pkg, pattern), recursive=True))
        if hits:
            return hits[0]
    raise OracleUnavailable(f"no libggml-base shared library under {pkg}")


@dataclass
class Ggml:
    lib: ctypes.CDLL
    path: str

    def row_size(self, gtype: int, n: int) -> int:
        return int(self.lib.ggml_row_size(gtype, n))

    def requires_imatrix(self, gtype: int) -> bool:
        return bool(self.lib.ggml_quantize_requires_imatrix(gtype))

    def traits(self, gtype: int) -> _TypeTraits:
        return self.lib.ggml_get_type_traits(gtype).contents

    def quantize(self, gtype: int, src: np.ndarray, n_per_row: int, imatrix: np.ndarray | None = None) -> bytes:
        """ggml_quantize_chunk over all rows of src (float32)."""
        src = np.ascontiguousarray(src, dtype=np.float32).reshape(-1)
        assert src.size % n_per_row == 0
        nrows = src.size // n_per_row
        out = np.zeros(nrows * self.row_size(gtype, n_per_row), dtype=np.uint8)
        im = None
        if imatrix is not None:
            imatrix = np.ascontiguousarray(imatrix, dtype=np.float32)
            assert imatrix.size == n_per_row
            im = imatrix.ctypes.data_as(ctypes.c_void_p)
        n = self.lib.ggml_quantize_chunk(gtype, src.ctypes.data_as(ctypes.c_void_p),
                                         out.ctypes.data_as(ctypes.c_void_p), 0, nrows, n_per_row, im)
        assert n == out.size, (n, out.size)
        return out.tobytes()

    def to_float(self, gtype: int, data: bytes) -> np.ndarray:
        """The type traits' to_float (dequantize_row_* / ggml_*_to_fp32_row)."""
        tr = self.traits(gtype)
        if not tr.to_float:
            raise OracleUnavailable(f"ggml type {gtype} has no to_float in this libggml")
        return self._call_row(tr.to_float, tr, data)

    def dequantize_row(self, name: str, gtype: int, data: bytes) -> np.ndarray:
        """An exported dequantize_row_* by name (Q8_K has no to_float trait)."""
        fn = getattr(self.lib, name)
        return self._call_row(ctypes.cast(fn, ctypes.c_void_p).value, self.traits(gtype), data)

    def from_float_ref(self, gtype: int, src: np.ndarray) -> bytes:
        tr = self.traits(gtype)
        if not tr.from_float_ref:
            raise OracleUnavailable(f"ggml type {gtype} has no from_float_ref")
        src = np.ascontiguousarray(src, dtype=np.float32).reshape(-1)
        nb = src.size // tr.blck_size
        out = np.zeros(nb * tr.type_size, dtype=np.uint8)
        _ROW_FN(tr.from_float_ref)(src.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), src.size)
        return out.tobytes()

    @staticmethod
    def _call_row(fnptr: int, tr: _TypeTraits, data: bytes) -> np.ndarray:
        assert len(data) % tr.type_size == 0
        nb = len(data) // tr.type_size
        k = nb * tr.blck_size
        src = np.frombuffer(data, dtype=np.uint8).copy()
        out = np.zeros(k, dtype=np.float32)
        _ROW_FN(fnptr)(src.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p), k)
        return out


_cached: Ggml | None = None


def load() -> Ggml:
    global _cached
    if _cached is not None:
        return _cached
    path = _find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise OracleUnavailable(f"cannot load {path}: {e}") from e
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_get_type_traits.restype = ctypes.POINTER(_TypeTraits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_quantize_init.restype = None
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    _cached = Ggml(lib, path)
    return _cached


# ---------------------------------------------------------------- gguf-py

def gguf_dequantize(data: bytes, gtype: int) -> np.ndarray:
    from gguf import quants, GGMLQuantizationType
    return np.asarray(quants.dequantize(np.frombuffer(data, dtype=np.uint8), GGMLQuantizationType(gtype)),
                      dtype=np.float32).reshape(-1)


def gguf_quantize(src: np.ndarray, gtype: int) -> bytes:
    from gguf import quants, GGMLQuantizationType
    return np.asarray(quants.quantize(np.asarray(src, dtype=np.float32), GGMLQuantizationType(gtype))).tobytes()


def gguf_can(gtype: int, what: str) -> bool:
    """Whether gguf-py implements quantize or dequantize for gtype."""
    from gguf import quants, GGMLQuantizationType
    t = GGMLQuantizationType(gtype)
    if t in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
        return True
    cls = quants._type_traits.get(t)
    if cls is None:
        return False
    fn = getattr(cls, what + "_blocks")
    return not getattr(fn, "__isabstractmethod__", False)
