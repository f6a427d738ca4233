#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try the SLURM launcher presets for real (and what
# .ci/run tests them on): Debian's slurm-wlm 22.05 and munge, one node `localhost` with this
# machine's CPUs and memory, one partition `local`, no accounting.
#   scripts/slurm_local.sh up       install (apt, as root or with sudo, once) and start it; again: nothing to do
#   scripts/slurm_local.sh status   sinfo, and the jobs queued or running
#   scripts/slurm_local.sh down     cancel its jobs and stop it
# It writes /etc/slurm/slurm.conf, and refuses to if one is there that it did not write (a real
# cluster's). Then, e.g.:
#   uv run python -m project_name.train -m hydra/launcher=slurm_cpu training.resume=auto seed=0,1
set -euo pipefail

conf=/etc/slurm/slurm.conf
marker="# written by project_name's scripts/slurm_local.sh"
as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null && return
  echo "slurm_local: installing slurmctld slurmd slurm-client munge (apt)"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
  if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
    echo "slurm_local: $conf is not one this script wrote (a real cluster's?); it is left as it is. Move it away to use a local cluster." >&2
    exit 2
  fi
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 9 / 10 ))  # leave the rest to the machine
  $as_root mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  $as_root tee "$conf" >/dev/null <<EOF
$marker
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=30
DefMemPerCPU=1024
NodeName=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

running() { pgrep -x "$1" >/dev/null; }

wait_for_node() {
  for _ in $(seq 60); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case "$state" in idle*|mixed*|allocated*) return 0;; esac
    sleep 1
  done
  echo "slurm_local: the node did not come up (state: ${state:-none}); see /var/log/slurm/slurmctld.log and slurmd.log" >&2
  exit 1
}

up() {
  install_packages
  write_conf
  if ! running munged; then
    $as_root install -d -o munge -g munge -m 0755 /run/munge
    $as_root runuser -u munge -- /usr/sbin/munged
  fi
  running slurmctld || $as_root /usr/sbin/slurmctld
  running slurmd || $as_root /usr/sbin/slurmd
  wait_for_node
  if [ "$(sinfo -h -n localhost -o %T)" != idle ] && [ -z "$(squeue -h)" ]; then
    $as_root scontrol update nodename=localhost state=resume 2>/dev/null || true
  fi
  echo "slurm_local: up: $(sinfo -h -o '%P %D node(s) %c CPUs %m MB %T')"
}

down() {
  if running slurmctld; then $as_root scancel --full --user="$(id -un)" 2>/dev/null || true; fi
  for daemon in slurmd slurmctld munged; do
    running "$daemon" && $as_root pkill -x "$daemon" || true
  done
  for _ in $(seq 30); do running slurmd || running slurmctld || break; sleep 1; done
  echo "slurm_local: down"
}

status() { sinfo; squeue; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/slurm_local.sh up|down|status" >&2; exit 2 ;;
esac
