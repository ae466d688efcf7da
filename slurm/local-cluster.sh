#!/usr/bin/env bash
# local-cluster.sh - a real one-node SLURM cluster on this machine (munged +
# slurmctld + slurmd), for tests and for trying sbatch before a real cluster.
#
#   slurm/local-cluster.sh start [DIR]   write DIR/slurm.conf, start the
#                                        daemons, wait until the node is idle
#   slurm/local-cluster.sh stop [DIR]    stop slurmd and slurmctld
#   slurm/local-cluster.sh env [DIR]     print the export line clients need
#
# DIR (default /tmp/modyn-slurm) holds the config, state, logs and pid files.
# MODYN_SLURM_PORT (default 16817) is slurmctld's port, slurmd's is the next
# one: give a second cluster on the same machine other ports.
# Clients (sbatch, squeue, sinfo) find the cluster through SLURM_CONF, which
# `start` prints. Needs root (slurmd starts jobs as their user) and the
# Debian packages slurmctld, slurmd, slurm-client and munge. munged is
# started only when it is not running already and is left running by `stop`.
set -euo pipefail

cmd=${1:-}
DIR=${2:-${MODYN_SLURM_DIR:-/tmp/modyn-slurm}}
CONF=$DIR/slurm.conf
PORT=${MODYN_SLURM_PORT:-16817}

die() { echo "local-cluster: $*" >&2; exit 1; }

start() {
  [ "$(id -u)" -eq 0 ] || die "run as root (slurmd must be able to start jobs as their user)"
  for b in munged slurmctld slurmd sbatch sinfo; do
    command -v "$b" > /dev/null || die "$b not found: apt-get install slurmctld slurmd slurm-client munge"
  done
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
  # No cgroups (containers rarely allow them): processes are tracked by
  # parent pid, and jobs are not confined to their cores.
  cat > "$CONF" <<EOF
ClusterName=modyn-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  if ! pgrep -x munged > /dev/null; then
    mkdir -p /run/munge
    chown munge:munge /run/munge 2> /dev/null || true
    [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing: reinstall munge (its setup creates the key)"
    if id munge > /dev/null 2>&1; then
      runuser -u munge -- munged || die "munged did not start"
    else
      munged --force || die "munged did not start"
    fi
  fi
  stop_daemons quiet
  export SLURM_CONF=$CONF
  slurmctld -f "$CONF" || die "slurmctld did not start; see $DIR/log/slurmctld.log"
  slurmd -f "$CONF" || die "slurmd did not start; see $DIR/log/slurmd.log"
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o %t 2> /dev/null | head -1 || true)
    case "$state" in
      idle*|mix*|alloc*) echo "# local SLURM cluster up: node $host, $cpus CPUs; export SLURM_CONF=$CONF"; return 0 ;;
      down*|drain*) scontrol update nodename="$host" state=resume > /dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  die "node $host did not become idle in 30 s (state: ${state:-none}); see $DIR/log/"
}

stop_daemons() {
  for d in slurmd slurmctld; do
    local pidf=$DIR/$d.pid pid
    pid=$(cat "$pidf" 2> /dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidf"
  done
  [ "${1:-}" = quiet ] || echo "# local SLURM cluster stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop_daemons ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  -h|--help|"") sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ; [ -n "$cmd" ] ;;
  *) die "unknown command '$cmd' (start, stop, env)" ;;
esac
