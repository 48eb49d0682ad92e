#!/usr/bin/env bash
# ensure-docker.sh makes sure a Docker engine answers on this machine.
#
# Usage: scripts/ensure-docker.sh [--debootstrap] [-h|--help]
#
#   --debootstrap  also install debootstrap and the Debian archive keyring
#                  (needed to build the base kernel image) when missing.
#
# What it does, in order, doing nothing that is not needed:
#   1. installs Debian's docker.io package when `docker`/`dockerd` are missing
#      (apt-get update first);
#   2. starts dockerd in the background (systemd when it runs the machine,
#      otherwise a detached `dockerd` logging to $BAI_DOCKERD_LOG, default
#      /var/log/bai-dockerd.log) when the socket does not answer;
#   3. waits until `docker info` works (deadline $BAI_DOCKER_WAIT seconds,
#      default 60).
# It prints nothing when all is fine already and exits non-zero with a message
# saying what to do otherwise. Installing and starting need root (or sudo
# without a password).
set -euo pipefail

want_debootstrap=0
for arg in "$@"; do
	case "$arg" in
	--debootstrap) want_debootstrap=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "ensure-docker: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

wait_s=${BAI_DOCKER_WAIT:-60}
dockerd_log=${BAI_DOCKERD_LOG:-/var/log/bai-dockerd.log}
sock=/var/run/docker.sock

say() { echo "ensure-docker: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# as_root runs a command as root: directly when we are root, else through
# sudo when it needs no password.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "'$*' needs root: rerun this script as root (or with sudo)"
	fi
}

apt_updated=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "apt-get not found: install $* by hand (this script knows Debian only)"
	if [[ $apt_updated -eq 0 ]]; then
		say "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
			die "apt-get update failed: check /etc/apt/sources.list* and the network"
		apt_updated=1
	fi
	say "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
		die "apt-get install $* failed (see the output above)"
}

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

# 1. Packages.
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
	say "docker not installed; installing Debian's docker.io"
	apt_install docker.io
fi
if [[ $want_debootstrap -eq 1 ]]; then
	missing=()
	command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
	[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
	if [[ ${#missing[@]} -gt 0 ]]; then
		apt_install "${missing[@]}"
	fi
fi

docker_ok && exit 0

# Tell a permission problem apart from a daemon that is down.
if [[ -S $sock ]] && pgrep -x dockerd >/dev/null 2>&1; then
	if timeout 20 docker info 2>&1 | grep -qi 'permission denied'; then
		die "dockerd runs but $(id -un) may not use $sock: run as root, or 'usermod -aG docker $(id -un)' and log in again"
	fi
fi

# 2. Start the daemon unless one is already on its way up.
if ! pgrep -x dockerd >/dev/null 2>&1; then
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		say "starting docker with systemctl"
		as_root systemctl start docker || say "systemctl start docker failed; trying dockerd directly"
	fi
	if ! pgrep -x dockerd >/dev/null 2>&1; then
		say "starting dockerd in the background (log: $dockerd_log)"
		as_root mkdir -p "$(dirname "$dockerd_log")"
		# setsid+nohup: dockerd must outlive this script and its terminal.
		as_root sh -c 'setsid nohup dockerd >>"$1" 2>&1 </dev/null &' sh "$dockerd_log"
	fi
else
	say "dockerd is running but does not answer yet; waiting"
fi

# 3. Wait for it, with a deadline.
deadline=$((SECONDS + wait_s))
until docker_ok; do
	if ((SECONDS >= deadline)); then
		say "docker did not answer within ${wait_s}s"
		if [[ -r $dockerd_log ]]; then
			say "last lines of $dockerd_log:"
			tail -n 20 "$dockerd_log" >&2 || true
		fi
		die "check the log above (iptables, cgroups, storage driver); run 'dockerd' by hand to see why it stops, then rerun this script"
	fi
	sleep 0.5
done
say "docker is ready"
