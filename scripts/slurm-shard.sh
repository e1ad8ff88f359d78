#!/bin/bash
#SBATCH --job-name=ibci-sweep --cpus-per-task=2 --time=02:00:00
# One shard of an `ibci reproduce` sweep per task of a Slurm job array. Submit from the
# repository's root after `cargo build --release -p ibci-train`:
#   sbatch --array=1-10 scripts/slurm-shard.sh                      # --full in 10 shards
#   SWEEP="--nets mlp2 --seeds 20" sbatch --array=1-4 scripts/slurm-shard.sh
# then, once every task has finished:
#   target/release/ibci reproduce --merge shards/* --out results/full
# Shard I of N writes shards/I; N is the array's last index (to re-run some tasks of a
# 10-task array, say so: SHARDS=10 sbatch --array=3,7 scripts/slurm-shard.sh).
set -euo pipefail
shards=${SHARDS:-$SLURM_ARRAY_TASK_MAX}
# $SWEEP is a list of flags: split on purpose.
# shellcheck disable=SC2086
"${IBCI:-target/release/ibci}" reproduce ${SWEEP:---full} --jobs "${SLURM_CPUS_PER_TASK:-1}" \
  --shard "$SLURM_ARRAY_TASK_ID/$shards" --out "shards/$SLURM_ARRAY_TASK_ID"
