#!/usr/bin/env bash
# The whole benchmark: release build, 3 rounds of every workload on every
# target (raw, tarpc, tarpc-postcard, pb; about 10 minutes on 2 vCPUs, 12
# with --baseline). JSON lines on stdout; the tables of figures, per-call
# costs and ratio checks on stderr.
#   bench/run.sh                      full run
#   bench/run.sh --smoke              seconds-long pass (what CI runs, in the dev profile)
#   bench/run.sh --only add_seq       some workloads (see --help)
#   bench/run.sh --targets raw,pb     some targets
#   bench/run.sh --baseline REV       also run pb as of git revision REV, as
#                                     target pb@REV, taking turns with the others
#
# --baseline REV exports REV's tree (git archive, nothing checked out) to
# target/bench-baseline/<short>/src and builds its pb-bench there, once per
# revision, in target/bench-baseline/<short>/target (seeded with a copy of
# target/release, so only pb's own crates compile). The bench then starts that
# binary's pb server, relay and client processes (`server`, `client`,
# `mem-client` subcommands) next to its own. If REV's bench has no client
# process (bench/src/agent.rs), as at 54c6a01, REV's bench/ and Cargo.lock
# are replaced by those of $BENCH_OVERLAY_REV (default 23637d8, the last
# bench written against such a pb's API, with the same client protocol)
# before building, so REV's pb library runs under this bench's workloads.
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
        # REV predates the client process: its pb is built with the bench/
        # (and Cargo.lock) of OVERLAY_REV, the last bench written against
        # the API of such revisions (later benches use newer pb APIs).
        overlay=$(git rev-parse --short=7 "${BENCH_OVERLAY_REV:-23637d8}")
        dir="$target_dir/bench-baseline/$short-bench-$overlay"
    fi
    exe="$dir/target/release/pb-bench"
    if [ ! -x "$exe" ]; then
        echo "building pb-bench at $short (once; kept in $dir)" >&2
        rm -rf "$dir/src"
        mkdir -p "$dir/src"
        # -m: files dated now, so cargo cannot take the copied artifacts
        # (below) for builds of these sources.
        git archive "$rev" | tar -x -m -C "$dir/src"
        if [ -n "$overlay" ]; then
            echo "$short's bench has no client process: using $overlay's bench/ on $short's pb" >&2
            rm -rf "$dir/src/bench"
            git archive "$overlay" bench Cargo.lock | tar -x -m -C "$dir/src"
        fi
        # A target directory of its own: cargo hashes a workspace's own
        # crates by their path inside the workspace, so this tree's and
        # REV's would overwrite each other's artifacts in a shared one. It
        # starts as a copy of this one's release artifacts (the registry
        # dependencies are the same, and are not rebuilt).
        if [ ! -d "$dir/target/release" ] && [ -d "$target_dir/release" ]; then
            mkdir -p "$dir/target"
            cp -a "$target_dir/release" "$dir/target/release"
        fi
        (cd "$dir/src" && CARGO_TARGET_DIR="$dir/target" cargo build --release -p pb-bench)
    fi
    args+=(--baseline-exe "$exe" --baseline-name "$short")
fi
exec cargo run --release -p pb-bench -- "${args[@]}"
