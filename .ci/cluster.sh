#!/usr/bin/env bash
# The scale-out recipes of docs/reproducing.md, run for real: scripts/parallel-shards.sh
# under GNU parallel, and scripts/slurm-shard.sh as a job array on a one-node Slurm cluster
# started here (munged, slurmctld, slurmd; see ../shared/docs/slurm-ci.md). Each runs a
# miniature sweep in 2 shards, merges, and must give the digest of the same sweep run on one
# machine. The docs show these script files verbatim (tests/recipes.rs checks that).
# Needs: target/release/ibci, and the packages slurm-wlm, munge and parallel.
set -euo pipefail
repo=$(pwd)
export IBCI=$repo/target/release/ibci
export SWEEP="--nets mlp5 --epochs 2 --seeds 2 --train-subset 2000 --bases he --methods vanilla,ibci --dataset $repo/datasets/mnist"
work=$(mktemp -d /tmp/ibci-cluster.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The daemons write their state until they exit (slurmctld once made the removal below
  # fail with "Directory not empty"): wait for them, ten seconds at most.
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do
      if kill -0 "$p" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  rm -rf "$work"
}
trap cleanup EXIT

digest() { grep -o 'results digest [0-9a-f]*' "$1" | tail -1; }

# shellcheck disable=SC2086
"$IBCI" reproduce $SWEEP --out "$work/one" > "$work/one.log" 2>&1
want=$(digest "$work/one.log")
echo "one machine: $want"

mkdir "$work/parallel" && cd "$work/parallel"
OUT=merged SHARDS=2 "$repo/scripts/parallel-shards.sh" > ../parallel.log 2>&1 \
  || { cat ../parallel.log; exit 1; }
got=$(digest ../parallel.log)
echo "GNU parallel, 2 shards, merged: $got"
[ "$got" = "$want" ] || { cat ../parallel.log; exit 1; }

# A one-node Slurm: munge first, then the controller and the node daemon.
mkdir -p /run/munge /var/log/munge
chown munge: /run/munge /var/log/munge
runuser -u munge -- /usr/sbin/munged --force
pids+=("$(cat /run/munge/munged.pid)")
munge -n | unmunge | grep -q 'STATUS: *Success'
host=$(hostname -s)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
s=$work/slurm
mkdir -p "$s/state" "$s/spool" "$s/log"
cat > "$s/slurm.conf" <<EOF
ClusterName=ibci-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/log/slurmctld.log
SlurmdLogFile=$s/log/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$s/slurm.conf
slurmctld
sleep 1
pids+=("$(cat "$s/slurmctld.pid")")
slurmd
sleep 1
pids+=("$(cat "$s/slurmd.pid")")
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %T | grep -q idle || { sinfo; cat "$s/log/"*; exit 1; }

mkdir "$work/slurm-run" && cd "$work/slurm-run"
sbatch --wait --array=1-2 "$repo/scripts/slurm-shard.sh" \
  || { cat slurm-*.out "$s/log/"*; exit 1; }
"$IBCI" reproduce --merge shards/* --out merged > ../slurm.log 2>&1 \
  || { cat ../slurm.log slurm-*.out; exit 1; }
got=$(digest ../slurm.log)
echo "Slurm job array, 2 shards, merged: $got"
[ "$got" = "$want" ] || { cat ../slurm.log; exit 1; }
echo "cluster recipes: both give the one-machine digest"
