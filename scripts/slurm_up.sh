#!/usr/bin/env bash
# A throwaway single-node Slurm for `make test-cluster`: munged, slurmctld and slurmd,
# configured under DIR (default: a new temp dir), their PIDs in DIR/pids.
# Usage (as root): scripts/slurm_up.sh [DIR]; then SLURM_CONF=DIR/slurm.conf sinfo;
# scripts/slurm_down.sh DIR stops what this started.
set -euo pipefail
DIR=${1:-$(mktemp -d /tmp/skillmix-slurm.XXXXXX)}
mkdir -p "$DIR"/{state,spool,log}
: > "$DIR/pids"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "slurm_up: slurm-wlm and munge are missing; run as root to install them" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$DIR/log/apt.log" 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$DIR/log/apt.log" 2>&1; } \
    || { tail -20 "$DIR/log/apt.log" >&2; exit 1; }
fi
[ "$(id -u)" = 0 ] || { echo "slurm_up: starting slurmd needs root" >&2; exit 1; }

# munge: reuse a running munged, else start one as the munge user.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key -f; }
  mkdir -p /run/munge && chown munge:munge /run/munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  setsid setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
    >"$DIR/log/munged.log" 2>&1 < /dev/null &
  echo "munged $!" >> "$DIR/pids"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || { cat "$DIR/log/munged.log" >&2; exit 1; }
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cat > "$DIR/slurm.conf" <<CONF
ClusterName=skillmix-test
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=600
ReturnToService=2
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$DIR/slurm.conf

setsid slurmctld -D -i -f "$SLURM_CONF" >"$DIR/log/slurmctld.out" 2>&1 < /dev/null &
echo "slurmctld $!" >> "$DIR/pids"
setsid slurmd -D -f "$SLURM_CONF" >"$DIR/log/slurmd.out" 2>&1 < /dev/null &
echo "slurmd $!" >> "$DIR/pids"

for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^idle' && break
  sleep 0.5
done
if ! sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then
  echo "slurm_up: the node did not come up; logs in $DIR/log" >&2
  tail -5 "$DIR"/log/*.log >&2 || true
  exit 1
fi
echo "slurm up: SLURM_CONF=$SLURM_CONF (pids in $DIR/pids)"
