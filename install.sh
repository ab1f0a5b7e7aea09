#!/usr/bin/env bash
# Fresh-machine install into ./.venv. torch is pinned to the CPU build (an unpinned torch pulls a multi-GB CUDA
# build); llama-cpp-python has no wheel and compiles llama.cpp from source (~4 min on 2 cores, cached by pip after).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
# -DLLAVA_BUILD=OFF skips the multimodal module we do not use (3 minutes less to compile). The server extra adds
# llama_cpp.server (an OpenAI-compatible server over the same model; the tests run a conversation through it).
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" .venv/bin/pip install -q -e ".[test,server]"
echo "installed into $(pwd)/.venv"
