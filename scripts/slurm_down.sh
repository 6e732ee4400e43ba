#!/usr/bin/env bash
# Stop the daemons scripts/slurm_up.sh started, by the PIDs it recorded in DIR/pids.
set -uo pipefail
DIR=${1:?usage: slurm_down.sh DIR}
[ -f "$DIR/pids" ] || exit 0
# Jobs first, so no slurmstepd outlives slurmd.
SLURM_CONF="$DIR/slurm.conf" scancel --full -u "$(id -un)" 2>/dev/null || true
tac "$DIR/pids" | while read -r name pid; do
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "slurm_down: $name ($pid) ignored SIGTERM; killing" >&2; kill -KILL "$pid"; }
done
: > "$DIR/pids"
echo "slurm down ($DIR)"
