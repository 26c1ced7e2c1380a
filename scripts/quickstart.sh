#!/usr/bin/env bash
# Set up darkpy from nothing and run one of its jobs.
#   bash scripts/quickstart.sh demo   # install, then detect objects with the bundled model
#   bash scripts/quickstart.sh test   # install, then run the whole test suite
# Needs only Python >= 3.10 (3.11 recommended). Creates ./.venv; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-demo}"; shift || true
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# setuptools: the build backend, also used offline by tests/test_wheel.py (Python >= 3.12 venvs lack it)
"$VPY" -m pip install -q --upgrade pip "setuptools>=70.1" >/dev/null
# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build. DARKPY_TORCH overrides it.
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  "$VPY" -m pip install -q "${DARKPY_TORCH:-torch==2.13.0}"
fi
"$VPY" -m pip install -q -e ".[test,serve]"
# WordNet 3.0 for `darkpy wordtree build` (Debian's wordnet-base); best effort where we are root.
if [ ! -f /usr/share/wordnet/data.noun ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base) >/dev/null 2>&1 \
    || echo "note: could not install wordnet-base; WordNet tests will use fixtures only" >&2
fi
# Chromium for the browser test of `darkpy serve`'s page (tests/serve); best effort, as above.
if [ "$job" = test ] && ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "note: could not install chromium; the browser test of darkpy serve will be skipped" >&2
fi
case "$job" in
  demo)
    .venv/bin/darkpy detect data/demo/images --out predictions "$@"
    ;;
  test)
    # optional: ONNX export is tested against onnxruntime when these install
    "$VPY" -m pip install -q -e ".[onnx]" >/dev/null 2>&1 \
      || echo "note: onnx/onnxruntime not installed; the ONNX export test will be skipped" >&2
    .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: bash scripts/quickstart.sh demo|test [args...]" >&2; exit 2 ;;
esac
