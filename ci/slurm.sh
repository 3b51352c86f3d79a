#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on this host for the farm tests (issue 13).
#
# Source it and call the functions:
#     source ci/slurm.sh && slurm_start    # exports FERMI_TEST_SLURM, SLURM_CONF, FERMI_SLURM_DIR, ...
#     trap slurm_stop EXIT
# or run it:  eval "$(ci/slurm.sh start)"  ...  ci/slurm.sh stop "$FERMI_SLURM_DIR"
#
# slurm_start installs Debian's slurm-wlm and munge if they are missing, writes a random munge
# key and a slurm.conf in a fresh temporary folder (state, spool, logs, sockets and pid files all
# there), and starts munged, slurmctld and slurmd here: SlurmUser=root, proctrack/linuxproc,
# task/none, select/cons_tres (one CPU per job, so two jobs run side by side on two cores), no
# accounting, the controller and the node on 127.0.0.1 on free ports above 1024. It waits until
# the node is idle and a one-task `srun` ran, then exports
#     FERMI_TEST_SLURM=1           the farm tests (tests/farm) run instead of skipping
#     FERMI_SLURM_PARTITION        the partition to submit to
#     SLURM_CONF                   this cluster's slurm.conf, for sbatch/squeue/scancel/srun
#     FERMI_SLURM_DIR              the folder, for slurm_stop / slurm_kill_node / slurm_start_node
#
# slurm_kill_node loses the node as a crash does: slurmd, its step daemons and every process of
# the jobs on it get SIGKILL. slurm_start_node starts slurmd again (ReturnToService=2: the node
# comes back by itself and the controller ends the jobs it lost).

_slurm_log() { echo "slurm.sh: $*" >&2; }

SLURM_PARTITION_NAME=${SLURM_PARTITION_NAME:-fermi}

slurm_install() {
    if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
        && command -v munged >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        _slurm_log "Slurm is not installed and installing it needs root (apt-get install slurm-wlm munge)"
        return 1
    fi
    _slurm_log "installing slurm-wlm and munge from the Debian packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
        || return 1
    command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1
}

_slurm_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pid recorded in a pid file, if that process is alive
_slurm_pid() {
    local f=$1 pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

_slurm_write_conf() {
    local dir=$1 host node ctl_port d_port
    host=$(hostname -s)
    # the node as slurmd sees it (CPUs, sockets, memory), on the loopback address
    node=$(slurmd -C | head -n 1)
    ctl_port=$(_slurm_free_port)
    d_port=$(_slurm_free_port)
    while [ "$d_port" = "$ctl_port" ]; do d_port=$(_slurm_free_port); done
    cat >"$dir/slurm.conf" <<EOF
# written by ci/slurm.sh: a throw-away test cluster, never production
ClusterName=fermici
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket.2
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=10
JobRequeue=0
InactiveLimit=0
KillWait=5
MinJobAge=3600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$SLURM_PARTITION_NAME Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

slurm_start_node() {
    local dir=${1:-${FERMI_SLURM_DIR:-}}
    SLURM_CONF="$dir/slurm.conf" slurmd -f "$dir/slurm.conf" || { _slurm_log "slurmd did not start"; return 1; }
}

slurm_start() {
    slurm_install || return 1
    # a cluster that did not come up is taken down again (daemons stopped, folder removed)
    _slurm_start_cluster || { slurm_stop "${FERMI_SLURM_DIR:-}"; return 1; }
}

_slurm_start_cluster() {
    local dir i state
    FERMI_SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fermi-slurm.XXXXXX") || return 1
    dir=$FERMI_SLURM_DIR
    chmod 700 "$dir"
    mkdir -p "$dir"/{munge,state,spool,log,run}
    chmod 700 "$dir/munge"
    # a random key, for this cluster only
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    if ! munged --force --socket="$dir/munge/munge.socket.2" --key-file="$dir/munge/munge.key" \
        --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
        --seed-file="$dir/munge/munged.seed" 2>"$dir/log/munged.err"; then
        _slurm_log "munged did not start:"; cat "$dir/log/munged.err" "$dir/log/munged.log" >&2 2>/dev/null
        return 1
    fi
    _slurm_write_conf "$dir"
    export SLURM_CONF="$dir/slurm.conf"
    if ! slurmctld -f "$SLURM_CONF" 2>"$dir/log/slurmctld.err"; then
        _slurm_log "slurmctld did not start:"; cat "$dir/log/slurmctld.err" "$dir/log/slurmctld.log" >&2
        return 1
    fi
    slurm_start_node "$dir" || { cat "$dir/log/slurmd.log" >&2; return 1; }
    for i in $(seq 1 60); do
        state=$(sinfo --noheader --partition="$SLURM_PARTITION_NAME" --format=%T 2>/dev/null | head -n 1)
        [ "$state" = idle ] && break
        sleep 0.5
    done
    if [ "$state" != idle ]; then
        _slurm_log "the node is not idle after 30 s (state: ${state:-none}):"
        tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2
        return 1
    fi
    if ! timeout 60 srun --partition="$SLURM_PARTITION_NAME" --ntasks=1 --quiet true 2>"$dir/log/srun-check.err"; then
        _slurm_log "a one-task srun failed:"; cat "$dir/log/srun-check.err" >&2
        return 1
    fi
    export FERMI_SLURM_DIR FERMI_TEST_SLURM=1 FERMI_SLURM_PARTITION=$SLURM_PARTITION_NAME
    _slurm_log "$(sinfo --version) cluster up: partition $SLURM_PARTITION_NAME, $(sinfo --noheader --format='%c CPUs on node %N') (state and logs in $dir)"
    echo "$SLURM_CONF"
}

# Every process of the jobs on the node and their step daemons (found before slurmd is gone).
_slurm_job_pids() {
    local dir=$1 pid
    SLURM_CONF="$dir/slurm.conf" scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}'
    for pid in $(pgrep -x slurmstepd); do
        # a step daemon of this cluster has a socket in this cluster's spool folder
        if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "$dir/spool" \
            || { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$dir/slurm.conf"; then
            echo "$pid"
        fi
    done
}

# (a subshell without errexit: safe to call from a `set -e` script or its EXIT trap)
slurm_kill_node() (
    set +e +o pipefail
    dir=${1:-${FERMI_SLURM_DIR:-}}
    pids=$(_slurm_job_pids "$dir" | sort -u)
    pid=$(_slurm_pid "$dir/run/slurmd.pid") && pids="$pids $pid"
    # shellcheck disable=SC2086
    [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
    rm -f "$dir/run/slurmd.pid"
    # shellcheck disable=SC2086
    _slurm_log "node lost: killed $(echo $pids | wc -w) processes (slurmd, step daemons, job processes)"
    exit 0
)

# Stop the cluster started by slurm_start (or the one whose folder is given) and delete its folder.
slurm_stop() {
    local dir=${1:-${FERMI_SLURM_DIR:-}}
    if [ -n "$dir" ] && [ -f "$dir/slurm.conf" ]; then
        (
            set +e +o pipefail
            SLURM_CONF="$dir/slurm.conf" scancel --quiet --full --partition="$SLURM_PARTITION_NAME" 2>/dev/null
            slurm_kill_node "$dir" 2>/dev/null
            for name in slurmctld munged; do
                if pid=$(_slurm_pid "$dir/run/$name.pid"); then
                    kill "$pid" 2>/dev/null
                    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
                    kill -9 "$pid" 2>/dev/null
                fi
            done
            rm -rf "$dir"
        )
    fi
    unset FERMI_TEST_SLURM FERMI_SLURM_DIR FERMI_SLURM_PARTITION SLURM_CONF
    return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    case "${1:-}" in
        start)
            slurm_start >/dev/null || exit 1
            echo "export FERMI_TEST_SLURM=1 SLURM_CONF=$SLURM_CONF FERMI_SLURM_DIR=$FERMI_SLURM_DIR FERMI_SLURM_PARTITION=$FERMI_SLURM_PARTITION"
            ;;
        stop) slurm_stop "${2:-}" ;;
        kill-node) slurm_kill_node "${2:-}" ;;
        start-node) slurm_start_node "${2:-}" ;;
        *) echo "usage: $0 start | stop DIR | kill-node DIR | start-node DIR   (or: source $0; slurm_start; ...; slurm_stop)" >&2
           exit 2 ;;
    esac
fi
