#!/usr/bin/env bash
# ensure-postgres.sh runs a throwaway PostgreSQL cluster for tests.
#
# Usage:
#   scripts/ensure-postgres.sh [start] [DIR] [PORT]   start (or reuse) it; prints the DSN
#   scripts/ensure-postgres.sh stop [DIR]             stop it (keeps the data)
#   scripts/ensure-postgres.sh destroy [DIR]          stop it and delete DIR
#   scripts/ensure-postgres.sh status [DIR]           print the DSN if running, else exit 1
#
# DIR defaults to /tmp/bai-pg (data in DIR/data, log DIR/postgres.log, unix
# socket in DIR), PORT to 55432. The server listens on 127.0.0.1 only, trusts
# every local connection and runs with fsync=off: for tests, never for data
# you care about. On success, stdout carries exactly one line, e.g.
#   postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable
# and everything else goes to stderr. When the cluster already runs (even on
# another port), it is reused and its DSN printed.
#
# Binaries: initdb/pg_ctl from $PATH, else /usr/lib/postgresql/*/bin (newest),
# else `apt-get install postgresql`. As root, the server runs as the system
# user "postgres" (created when absent), since initdb refuses root.
set -euo pipefail

cmd=start
case "${1:-}" in
start | stop | destroy | status)
	cmd=$1
	shift
	;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
esac
dir=${1:-/tmp/bai-pg}
port=${2:-55432}
[[ $port =~ ^[0-9]+$ ]] || {
	echo "ensure-postgres: port must be a number, got '$port'" >&2
	exit 2
}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
log=$dir/postgres.log

say() { echo "ensure-postgres: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

find_bindir() {
	local d
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[[ -x $d/pg_ctl && -x $d/initdb ]] && {
			echo "$d"
			return 0
		}
	done
	return 1
}

bindir=$(find_bindir || true)
if [[ -z $bindir ]]; then
	[[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed: run 'apt-get install postgresql' as root"
	say "PostgreSQL not found; installing Debian's postgresql"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 ||
		die "apt-get install postgresql failed (see above)"
	bindir=$(find_bindir) || die "installed postgresql but found no pg_ctl/initdb"
fi

# pg runs a PostgreSQL tool as the user that owns the cluster.
if [[ $(id -u) -eq 0 ]]; then
	if ! id -u postgres >/dev/null 2>&1; then
		say "creating the system user postgres"
		useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
			--shell /bin/bash postgres || die "useradd postgres failed"
	fi
	chown postgres: "$dir"
	pg() {
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		elif command -v setpriv >/dev/null 2>&1; then
			(cd / && setpriv --reuid=postgres --regid=postgres --init-groups -- "$@")
		else
			(cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
		fi
	}
else
	pg() { "$@"; }
fi

# The port the running server really listens on (line 4 of postmaster.pid).
running_port() { sed -n 4p "$data/postmaster.pid" 2>/dev/null || true; }

# answers: something accepts connections on the server's port.
answers() {
	local p
	p=$(running_port)
	[[ -n $p ]] && (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# running: pg_ctl sees the postmaster AND it answers. pg_ctl alone is fooled
# by a stale postmaster.pid whose process was killed but not reaped (a
# zombie counts as alive), which is what a killed session leaves behind.
running() {
	pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
	local i
	for ((i = 0; i < 50; i++)); do # a server still starting gets 5 s
		answers && return 0
		sleep 0.1
	done
	return 1
}

# clear_stale removes a postmaster.pid left by a server that is gone (its
# process absent, or a zombie), so pg_ctl can start a new one.
clear_stale() {
	local pid state
	[[ -f $data/postmaster.pid ]] || return 0
	pid=$(sed -n 1p "$data/postmaster.pid")
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
	if [[ -z $state || $state == Z ]]; then
		say "removing the stale postmaster.pid of a server that is gone (pid $pid)"
		rm -f "$data/postmaster.pid"
	fi
}

dsn() { echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"; }

case $cmd in
status)
	running || exit 1
	dsn "$(running_port)"
	exit 0
	;;
stop | destroy)
	if [[ -f $data/PG_VERSION ]] && running; then
		pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2 || die "pg_ctl stop failed (see $log)"
	fi
	if [[ $cmd == destroy ]]; then
		rm -rf --one-file-system "$dir"
	fi
	exit 0
	;;
esac

if [[ -f $data/PG_VERSION ]] && running; then
	dsn "$(running_port)"
	exit 0
fi

# A data dir from another PostgreSQL major version is of no use: start over.
want_major=$("$bindir/initdb" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
if [[ -f $data/PG_VERSION && $(cat "$data/PG_VERSION") != "$want_major" ]]; then
	say "data dir $data is from PostgreSQL $(cat "$data/PG_VERSION"), binaries are $want_major: recreating it"
	rm -rf --one-file-system "$data"
fi

if [[ ! -f $data/PG_VERSION ]]; then
	rm -rf --one-file-system "$data"
	say "initdb $data (PostgreSQL $want_major from $bindir)"
	pg "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		{
			cat "$dir/initdb.log" >&2
			die "initdb failed (output above)"
		}
	cat >>"$data/postgresql.conf" <<EOF

# ensure-postgres.sh: a throwaway cluster for tests.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi

clear_stale
say "starting PostgreSQL on 127.0.0.1:$port (log $log)"
if ! pg "$bindir/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >&2; then
	tail -n 20 "$log" >&2 || true
	die "pg_ctl start failed (log above; is port $port taken? pass another port as the third argument)"
fi
dsn "$(running_port)"
