#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying `smile sweep run --backend slurm` and for the tests that
# run a sweep on a real Slurm (tests/Smile.Cli.Tests/SlurmClusterTests.cs). Needs root (or sudo) and Debian 12.
#
#   scripts/slurm/local-cluster.sh start DIR   install slurm-wlm and munge if missing, start munged (unless one
#                                              runs), slurmctld and slurmd with a configuration in DIR, and wait
#                                              until the node is idle; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/local-cluster.sh stop DIR    stop what `start DIR` started, by the process ids it recorded
#
# The cluster is private to DIR: its own configuration (clients find it through SLURM_CONF), state, logs and
# ports (16817/16818, not Slurm's defaults, so a machine's own Slurm is not disturbed). One node, this machine's
# CPUs and most of its free memory; process tracking by /proc (proctrack/linuxproc) and no task plugin, so it
# needs no cgroups and no systemd.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo_cmd="sudo"
  else echo "error: starting Slurm's daemons needs root or password-less sudo" >&2; exit 1; fi
fi

stop_pid_file() { # stops the process whose id the file holds, waiting up to 10 s, then kills it
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if $sudo_cmd kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do $sudo_cmd kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    $sudo_cmd kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

if [ "$action" = stop ]; then
  # Jobs first: a job's slurmstepd outlives slurmd, and a later cluster numbering its jobs from 1 again would hear
  # from it about a job of the same number (seen: a new job 2 failed at its start).
  if [ -s "$dir/slurmctld.pid" ] && [ -e "$dir/slurm.conf" ]; then
    export SLURM_CONF="$dir/slurm.conf"
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [ -n "${jobs// }" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      for _ in $(seq 150); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  stop_pid_file "$dir/slurmd.pid"
  stop_pid_file "$dir/slurmctld.pid"
  stop_pid_file "$dir/munged.started.pid" # only a munged that `start` started
  echo "stopped the cluster of $dir"
  exit 0
fi
[ "$action" = start ] || usage

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "installing Debian packages: slurm-wlm munge"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/log"

# munge: Slurm's authentication. The system's munged (default socket) serves this cluster; start one if none runs.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    $sudo_cmd sh -c 'umask 077; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none'
  fi
  $sudo_cmd mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  $sudo_cmd chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge /etc/munge
  $sudo_cmd chmod 400 /etc/munge/munge.key
  $sudo_cmd su -s /bin/sh munge -c '/usr/sbin/munged'
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || { echo "error: munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
  cp /run/munge/munged.pid "$dir/munged.started.pid"
fi

node=$(hostname -s)
cpus=$(nproc)
# Most of the free memory, leaving 1 GiB to the rest of the machine.
memory=$(( $(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo) - 1024 ))
[ "$memory" -gt 512 ] || memory=512
cat > "$dir/slurm.conf" <<EOF
# Written by scripts/slurm/local-cluster.sh: a single-node cluster private to this folder.
ClusterName=smilelocal
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
# Job ids from a random start: a job step left running by an earlier cluster (its slurmstepd outlives slurmd) must
# not share an id with a job of this one.
FirstJobId=$(( (RANDOM % 9000 + 1000) * 100 ))
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

# Both daemonise and write their pid files; -c: a clean start, no jobs left from an earlier cluster in DIR.
$sudo_cmd env SLURM_CONF="$SLURM_CONF" slurmctld -c -f "$SLURM_CONF"
$sudo_cmd env SLURM_CONF="$SLURM_CONF" slurmd -f "$SLURM_CONF" -N "$node"
for _ in $(seq 300); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "$state" != idle ]; then
  echo "error: the node did not become idle (state '${state:-none}'); logs in $dir/log" >&2
  "$0" stop "$dir" >&2 || true
  exit 1
fi
echo "Slurm is up: node $node, $cpus CPUs, $memory MiB; stop it with: $0 stop $dir"
echo "export SLURM_CONF=$SLURM_CONF"
