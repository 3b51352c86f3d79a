#!/usr/bin/env bash
# A throw-away PostgreSQL server for the database tests (issue 9).
#
# Source it and call the functions:
#     source ci/postgres.sh && pg_start     # exports FERMI_TEST_PG_URL and FERMI_PG_DIR
#     trap pg_stop EXIT
# or run it:  eval "$(ci/postgres.sh start)"  ...  ci/postgres.sh stop "$FERMI_PG_DIR"
#
# pg_start installs PostgreSQL from the Debian packages if it is missing, initialises a cluster in a
# fresh temporary folder owned by a non-root user (the server refuses to run as root), starts it on
# 127.0.0.1 on a free port with trust authentication (local test cluster only, never production),
# creates the database ``fermi_test`` and prints its SQLAlchemy URL.

_pg_log() { echo "postgres.sh: $*" >&2; }

_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    fi
}

pg_install() {
    if [ -n "$(_pg_bindir)" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        _pg_log "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
        return 1
    fi
    _pg_log "installing PostgreSQL from the Debian packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    # the Debian package starts its own cluster on port 5432: it is not ours, leave it alone
    [ -n "$(_pg_bindir)" ]
}

# Run a command as the cluster owner: ourselves, or the 'postgres' account when we are root.
_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$_PG_OWNER" -- "$@"
    else
        "$@"
    fi
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
    pg_install || return 1
    local bindir port
    bindir=$(_pg_bindir)
    _PG_OWNER=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then
        _PG_OWNER=postgres
        id "$_PG_OWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$_PG_OWNER"
    fi
    FERMI_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fermi-pg.XXXXXX") || return 1
    chown "$_PG_OWNER" "$FERMI_PG_DIR"
    chmod 700 "$FERMI_PG_DIR"
    if ! _pg_as_owner "$bindir/initdb" -D "$FERMI_PG_DIR/data" -U fermi --auth=trust -E UTF8 --no-locale \
        >"$FERMI_PG_DIR/initdb.log" 2>&1; then
        _pg_log "initdb failed:"; cat "$FERMI_PG_DIR/initdb.log" >&2; return 1
    fi
    port=$(_pg_free_port)
    # fsync off: a test cluster thrown away after the run, speed matters more than crash safety
    if ! _pg_as_owner "$bindir/pg_ctl" -D "$FERMI_PG_DIR/data" -l "$FERMI_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $FERMI_PG_DIR -c fsync=off -c max_connections=200" \
        start >/dev/null; then
        _pg_log "the server did not start:"; cat "$FERMI_PG_DIR/server.log" >&2; return 1
    fi
    echo "$port" >"$FERMI_PG_DIR/port"
    if ! _pg_as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fermi fermi_test; then
        _pg_log "createdb failed"; return 1
    fi
    export FERMI_PG_DIR
    export FERMI_TEST_PG_URL="postgresql+psycopg://fermi@127.0.0.1:$port/fermi_test"
    _pg_log "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port (data in $FERMI_PG_DIR)"
    echo "$FERMI_TEST_PG_URL"
}

# Stop the server started by pg_start (or the one whose folder is given) and delete its folder.
pg_stop() {
    local dir=${1:-${FERMI_PG_DIR:-}}
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        return 0
    fi
    local bindir owner
    bindir=$(_pg_bindir)
    _PG_OWNER=$(stat -c %U "$dir/data")
    _pg_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    unset FERMI_TEST_PG_URL FERMI_PG_DIR
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start)
            pg_start >/dev/null
            echo "export FERMI_TEST_PG_URL=$FERMI_TEST_PG_URL FERMI_PG_DIR=$FERMI_PG_DIR"
            ;;
        stop) pg_stop "${2:-}" ;;
        *) echo "usage: $0 start | stop DIR   (or: source $0; pg_start; ...; pg_stop)" >&2; exit 2 ;;
    esac
fi
