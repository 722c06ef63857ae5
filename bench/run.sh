#!/usr/bin/env bash
# The whole benchmark: release build, 3 rounds of every workload (about
# 4 minutes on 2 vCPUs). JSON lines on stdout, the ratio table on stderr.
#   bench/run.sh                  full run
#   bench/run.sh --smoke          seconds-long pass (what CI runs)
#   bench/run.sh --only add_seq   some workloads (see --help)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -p pb-bench -- "$@"
