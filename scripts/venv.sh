#!/usr/bin/env bash
# Creates (or updates) the virtualenv of Python test oracles outside the
# clone, so repeated runs are fast. Re-installs only when
# tests/interop/requirements.txt changes.
set -euo pipefail
VENV=${VENV:-$HOME/.cache/mlmf/venv}
REQ=tests/interop/requirements.txt
want=$(sha256sum "$REQ" | cut -d' ' -f1)
stamp="$VENV/.mlmf-requirements"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 splits venv (and the headers native wheels may need) out.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv python3-dev >/dev/null
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    else
      echo "venv.sh: python3 -m venv failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi
if ! command -v c++ >/dev/null || ! command -v cmake >/dev/null; then
  # llama-cpp-python compiles llama.cpp: it needs a C/C++ toolchain and cmake.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq build-essential cmake >/dev/null
  else
    echo "venv.sh: a C++ compiler and cmake are needed (apt-get install build-essential cmake)" >&2
    exit 1
  fi
fi
echo "venv.sh: installing test oracles into $VENV (first run takes a few minutes)"
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
# llama-cpp-python builds llama.cpp from source (several minutes on 2 cores);
# GGML_NATIVE=OFF keeps the build independent of the CPU it runs on.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
# llama.cpp's own converter (convert_hf_to_gguf.py) is an oracle too: it
# ships in llama-cpp-python's source distribution, unpacked beside the venv.
ver=$(grep -E '^llama-cpp-python==' "$REQ" | head -1 | cut -d= -f3)
src="$VENV/src"
rm -rf "$src" && mkdir -p "$src"
"$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$src" "llama-cpp-python==$ver"
tar -xzf "$src"/llama_cpp_python-"$ver".tar.gz -C "$src"
ln -sfn "$src/llama_cpp_python-$ver/vendor/llama.cpp" "$VENV/llama.cpp"
echo "$want" > "$stamp"
