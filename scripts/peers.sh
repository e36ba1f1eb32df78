#!/bin/bash
# The peer environment for cross-checks and `reclab bench ctr`: a venv under ${PEER:-/tmp/peer}
# with RecBole 1.2.1, PyTorch and scikit-surprise. Idempotent. RecBole 1.2.1 predates pandas 2
# (its token_seq remapping fails under pandas 2 and 3), so pandas and NumPy are pinned below 2.
# `--full` runs ../shared/peers/setup.sh first (sentence-transformers, llama.cpp's server and the
# model packages the LM benchmarks use). `--cornac` also builds a second venv, venv-cornac, with
# cornac 3.0.1 (its TIGER, for Benchmarks/tiger_cornac.py) and sentence-transformers: cornac
# needs NumPy 2, which RecBole 1.2.1 cannot run with.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
PEER=${PEER:-/tmp/peer}
if [ "${1:-}" = "--cornac" ]; then
  [ -x "$PEER/venv-cornac/bin/python" ] || python3 -m venv "$PEER/venv-cornac"
  if ! "$PEER/venv-cornac/bin/python" -c 'import cornac, torch, sentence_transformers' 2>/dev/null; then
    "$PEER/venv-cornac/bin/pip" install -q torch cornac==3.0.1 sentence-transformers
  fi
  echo "peers: $PEER/venv-cornac/bin/python ($("$PEER/venv-cornac/bin/python" -c 'import cornac, torch; print("cornac", cornac.__version__, "torch", torch.__version__)'))"
  exit 0
fi
if [ "${1:-}" = "--full" ]; then PEER=$PEER bash "$here/../shared/peers/setup.sh"; fi
mkdir -p "$PEER"
[ -x "$PEER/venv/bin/python" ] || python3 -m venv "$PEER/venv"
pip="$PEER/venv/bin/pip"
if ! "$PEER/venv/bin/python" -c 'import recbole, surprise, torch, pandas; assert pandas.__version__ < "2"' 2>/dev/null; then
  "$pip" install -q torch recbole==1.2.1 scipy 'pandas<2' 'numpy<2' 'ray<2.10' 'setuptools<70' scikit-surprise
fi
echo "peers: $PEER/venv/bin/python ($("$PEER/venv/bin/python" -c 'import recbole, surprise, pandas; print("recbole", recbole.__version__, "surprise", surprise.__version__, "pandas", pandas.__version__)'))"
