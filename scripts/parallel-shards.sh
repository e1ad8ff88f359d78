#!/bin/bash
# An `ibci reproduce` sweep in N shards on one machine with GNU parallel, N at a time, then
# the tables. Run from the repository's root after `cargo build --release -p ibci-train`:
#   scripts/parallel-shards.sh                                       # --full, one shard per core
#   SWEEP="--nets mlp2 --seeds 20" SHARDS=8 OUT=results/custom scripts/parallel-shards.sh
# Shard I writes shards/I; an interrupted sweep resumes from the shards' caches when rerun.
set -euo pipefail
shards=${SHARDS:-$(nproc)}
ibci=${IBCI:-target/release/ibci}
# $SWEEP is a list of flags: split on purpose.
# shellcheck disable=SC2086
parallel --will-cite --halt now,fail=1 -j "$shards" \
  "$ibci" reproduce ${SWEEP:---full} --jobs 1 --shard {}/"$shards" --out shards/{} \
  ::: $(seq "$shards")
"$ibci" reproduce --merge shards/* --out "${OUT:-results/full}"
