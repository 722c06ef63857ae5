#!/usr/bin/env bash
# A Python Twisted PB client served by pb against the same client served by
# Twisted (see run.py). Needs Twisted: the venv .ci/run makes
# (target/twisted-venv), or PB_PYTHON.
#   bench/twisted/run.sh            full run
#   bench/twisted/run.sh --quick    seconds-long pass
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PB_PYTHON:-target/twisted-venv/bin/python}
if ! "$python" -c "import twisted" 2>/dev/null; then
    echo "no Twisted at $python: run .ci/run once, or set PB_PYTHON" >&2
    exit 1
fi
cargo build --release -q -p pb-bench
exec "$python" bench/twisted/run.py target/release/pb-bench "$@"
