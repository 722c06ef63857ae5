#!/usr/bin/env bash
# The whole benchmark: release build, 3 rounds of every workload on every
# target (raw, tarpc, tarpc-postcard, pb; about 8 minutes on 2 vCPUs). JSON
# lines on stdout; the tables of figures, per-call costs and ratio checks on
# stderr.
#   bench/run.sh                      full run
#   bench/run.sh --smoke              seconds-long pass (what CI runs, in the dev profile)
#   bench/run.sh --only add_seq       some workloads (see --help)
#   bench/run.sh --targets raw,pb     some targets
#   bench/run.sh --baseline REV       also run pb as of git revision REV, as
#                                     target pb@REV, taking turns with the others
#
# --baseline REV exports REV's tree (git archive, nothing checked out) to
# target/bench-baseline/<short>/src and builds its pb-bench there, in the same
# target directory (dependencies are shared), once per revision; the binary is
# kept as target/bench-baseline/<short>/pb-bench. The bench then starts that
# binary's pb server, relay and client processes (`server`, `client`,
# `mem-client` subcommands) next to its own. If REV's bench has no client
# process (bench/src/agent.rs), as at 54c6a01, REV's bench/ and Cargo.lock
# are replaced by this checkout's before building, so REV's pb library runs
# under this bench's workloads (that build is kept per content of bench/).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=()
baseline=""
while [ $# -gt 0 ]; do
    case "$1" in
        --baseline) baseline="${2:?--baseline needs a revision}"; shift 2 ;;
        --baseline=*) baseline="${1#*=}"; shift ;;
        -h | --help) usage; echo; args+=("$1"); shift ;;
        *) args+=("$1"); shift ;;
    esac
done

if [ -n "$baseline" ]; then
    rev=$(git rev-parse --verify "$baseline^{commit}")
    short=$(git rev-parse --short=7 "$rev")
    target_dir=${CARGO_TARGET_DIR:-$PWD/target}
    if git show "$rev:bench/src/agent.rs" 2>/dev/null | grep -q 'pub const PROTOCOL'; then
        overlay=""
        dir="$target_dir/bench-baseline/$short"
    else
        # Keyed by the content of this checkout's bench, which it builds with.
        overlay=$(find bench/Cargo.toml bench/src Cargo.lock -type f | sort | xargs cat | sha1sum | cut -c1-8)
        dir="$target_dir/bench-baseline/$short-bench-$overlay"
    fi
    exe="$dir/pb-bench"
    if [ ! -x "$exe" ]; then
        echo "building pb-bench at $short (once; kept in $dir)" >&2
        rm -rf "$dir/src"
        mkdir -p "$dir/src"
        git archive "$rev" | tar -x -C "$dir/src"
        if [ -n "$overlay" ]; then
            echo "$short's bench has no client process: using this checkout's bench/ on $short's pb" >&2
            rm -rf "$dir/src/bench"
            cp -r bench "$dir/src/bench"
            cp Cargo.lock "$dir/src/Cargo.lock"
        fi
        (cd "$dir/src" && CARGO_TARGET_DIR="$target_dir" cargo build --release -p pb-bench)
        cp "$target_dir/release/pb-bench" "$exe.tmp"
        mv "$exe.tmp" "$exe"
    fi
    args+=(--baseline-exe "$exe" --baseline-name "$short")
fi
exec cargo run --release -p pb-bench -- "${args[@]}"
