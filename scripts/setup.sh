#!/usr/bin/env bash
# Set up a virtual environment for CodeQuest on a fresh machine.
#
#   scripts/setup.sh            runtime only (index + search + serve)
#   scripts/setup.sh dev        + test, lint, type-check, training, benchmark and Ray tools,
#                               Node packages for the VS Code extension, and Neovim for
#                               the real-client LSP test
#
# torch: on a machine without CUDA we install the CPU wheel (torch==2.13.0) first, so pip
# never pulls a multi-GB CUDA build as a dependency of sentence-transformers. With an NVIDIA
# GPU (nvidia-smi works) or CODEQUEST_TORCH=cuda, the default torch build is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-runtime}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

torch_flavour="${CODEQUEST_TORCH:-auto}"
if [ "$torch_flavour" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        torch_flavour=cuda
    else
        torch_flavour=cpu
    fi
fi
if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
    if [ "$torch_flavour" = cpu ]; then
        echo "==> installing the CPU build of torch (torch==2.13.0)"
        "${pip[@]}" install "torch==2.13.0"
    else
        echo "==> installing torch with CUDA support"
        "${pip[@]}" install torch
    fi
fi

if [ "$mode" = dev ]; then
    echo "==> installing codequest with the dev, train, bench and cluster extras"
    "${pip[@]}" install -e ".[dev,train,bench,cluster]"
    if [ -f vscode-extension/package-lock.json ]; then
        echo "==> installing the VS Code extension's Node packages"
        (cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error)
    fi
    if ! command -v nvim >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            echo "==> installing Neovim (a real LSP client for the end-to-end test)"
            apt-get update -qq >/dev/null && apt-get install -y -qq neovim >/dev/null
        else
            echo "note: nvim not found and cannot apt-get it; the Neovim test will be skipped" >&2
        fi
    fi
else
    echo "==> installing codequest"
    "${pip[@]}" install -e .
fi
echo "==> ready: $venv/bin/codequest"
