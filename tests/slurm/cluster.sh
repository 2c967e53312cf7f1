#!/usr/bin/env bash
# A throw-away SLURM cluster on this one host, for testing profiles/slurm for real.
#
#   tests/slurm/cluster.sh start    install (Debian packages) and start; idempotent
#   tests/slurm/cluster.sh stop     stop every daemon it started, unlink its configuration
#   tests/slurm/cluster.sh status   exit 0 when both nodes are idle
#
# Two nodes on 127.0.0.1, one per partition named like the thesis's setups:
#   gpu40 in partition a100-40gb, gpu80 in partition a100-80gb, each with two fake A100 GPUs
# (character devices, so slurmd accepts them and sets CUDA_VISIBLE_DEVICES). The nodes
# advertise 32 CPUs and 256/512 GB (config_overrides), so production-sized requests schedule
# on a small machine. MariaDB + slurmdbd make sacct work; the account `llmfp` is created for
# the current user. Needs root, Debian and its package repositories.
#
# Environment: LLMFP_SLURM_DIR (state, logs, configs; default /tmp/llmfp-slurm).
set -euo pipefail

STATE=${LLMFP_SLURM_DIR:-/tmp/llmfp-slurm}
ACCOUNT=llmfp
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
# slurm-jobstep (used by the executor plugin) drops SLURM_* variables, SLURM_CONF included,
# before its inner srun: the configuration must live at the default path
CONF_DIR=/etc/slurm
unset SLURM_CONF

log() { printf '[slurm-ci] %s\n' "$*" >&2; }

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

retry_until() { # retry_until SECONDS COMMAND...: run COMMAND until it succeeds or time runs out
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
    sleep 0.5
  done
}

both_nodes_idle() {
  [ "$(sinfo --noheader --Node --format='%N %T' | sort -u | grep -c ' idle$')" -eq 2 ]
}

install_packages() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

write_configs() {
  mkdir -p "$STATE"/{conf,log,pid,spool/ctld,dev} "$CONF_DIR"
  local i
  for i in 0 1 2 3; do  # major 195 is NVIDIA's: /dev/nvidia0..3 look-alikes
    [ -c "$STATE/dev/nvidia$i" ] || { rm -f "$STATE/dev/nvidia$i"; mknod "$STATE/dev/nvidia$i" c 195 "$i"; }
  done
  cat >"$STATE/conf/slurm.conf" <<EOF
ClusterName=llmfp
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/node-%n
SlurmctldPidFile=$STATE/pid/slurmctld.pid
SlurmdPidFile=$STATE/pid/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
# long enough for squeue-based status checks to still see finished jobs
MinJobAge=600
GresTypes=gpu
# believe the sizes below rather than this small machine's
SlurmdParameters=config_overrides
NodeName=gpu40 NodeHostname=localhost NodeAddr=127.0.0.1 Port=6818 CPUs=32 RealMemory=256000 Gres=gpu:a100:2 State=UNKNOWN
NodeName=gpu80 NodeHostname=localhost NodeAddr=127.0.0.1 Port=6820 CPUs=32 RealMemory=512000 Gres=gpu:a100:2 State=UNKNOWN
PartitionName=a100-40gb Nodes=gpu40 Default=YES MaxTime=INFINITE State=UP
PartitionName=a100-80gb Nodes=gpu80 MaxTime=INFINITE State=UP
EOF
  cat >"$STATE/conf/gres.conf" <<EOF
AutoDetect=off
NodeName=gpu40 Name=gpu Type=a100 File=$STATE/dev/nvidia[0-1]
NodeName=gpu80 Name=gpu Type=a100 File=$STATE/dev/nvidia[2-3]
EOF
  cat >"$STATE/conf/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/pid/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=llmfp-ci-only
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$STATE/conf/slurmdbd.conf"
  local name
  for name in slurm.conf gres.conf slurmdbd.conf; do
    ln -sfn "$STATE/conf/$name" "$CONF_DIR/$name"
  done
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  retry_until 20 bash -c 'munge -n | unmunge' || { log "munge did not start"; exit 1; }
}

start_accounting() {
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb-admin ping >/dev/null 2>&1; then
    /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 >"$STATE/log/mariadb.log" 2>&1 &
    retry_until 60 mariadb-admin ping || { log "MariaDB did not start"; exit 1; }
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'llmfp-ci-only';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  running "$STATE/pid/slurmdbd.pid" || /usr/sbin/slurmdbd
  retry_until 60 sacctmgr --noheader list cluster || { log "slurmdbd did not answer"; exit 1; }
}

start_slurm() {
  running "$STATE/pid/slurmctld.pid" || /usr/sbin/slurmctld
  retry_until 60 scontrol ping || { log "slurmctld did not answer"; tail -n 20 "$STATE/log/slurmctld.log" >&2; exit 1; }
  local node
  for node in gpu40 gpu80; do
    running "$STATE/pid/slurmd-$node.pid" || /usr/sbin/slurmd -N "$node"
  done
  if ! retry_until 90 both_nodes_idle; then
    sinfo --Node >&2
    tail -n 20 "$STATE"/log/slurm*.log >&2
    log "the nodes did not become idle"
    exit 1
  fi
  if ! sacctmgr --noheader list account "$ACCOUNT" format=account | grep -q .; then
    sacctmgr -i add account "$ACCOUNT" >/dev/null
  fi
  if ! sacctmgr --noheader list assoc user="$(id -un)" account="$ACCOUNT" format=account | grep -q .; then
    sacctmgr -i add user "$(id -un)" account="$ACCOUNT" >/dev/null
  fi
}

stop_pid() { # stop_pid PIDFILE: TERM, then KILL after 10 s
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# A stopped cluster must not leave its configuration at the default path: with slurm.conf
# there and no controller, every `scontrol` waits ~9 s for an answer, and Snakemake's SLURM
# executor plugin runs `scontrol show config` when it is imported, so every snakemake command
# on this host, local runs and dry runs included, started 9 s late. Only links into $STATE
# are removed (start writes them again).
remove_config_links() {
  local name
  for name in slurm.conf gres.conf slurmdbd.conf; do
    if [ -L "$CONF_DIR/$name" ] && [ "$(readlink "$CONF_DIR/$name")" = "$STATE/conf/$name" ]; then
      rm -f "$CONF_DIR/$name"
    fi
  done
}

case "${1:-}" in
  start)
    [ "$(id -u)" -eq 0 ] || { log "needs root"; exit 2; }
    command -v apt-get >/dev/null || { log "needs Debian's apt-get"; exit 2; }
    install_packages
    write_configs
    start_munge
    start_accounting
    start_slurm
    sinfo --Node --format='%N %P %T %c %m %G'
    ;;
  stop)
    for pidfile in "$STATE"/pid/slurmd-*.pid; do [ -e "$pidfile" ] && stop_pid "$pidfile"; done
    stop_pid "$STATE/pid/slurmctld.pid"
    stop_pid "$STATE/pid/slurmdbd.pid"
    stop_pid /run/mysqld/mysqld.pid
    stop_pid /run/munge/munged.pid
    remove_config_links
    log "stopped"
    ;;
  status)
    both_nodes_idle
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
