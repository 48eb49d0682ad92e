#!/usr/bin/env bash
# build-web.sh builds the browser app (web/) into web/dist, which
# `go build -tags webui` embeds. It installs Debian's nodejs and npm when
# npm is missing, runs `npm ci` only when node_modules is missing or
# package-lock.json changed since the last install (a hash stamp in
# web/node_modules), then `npm run build` (with --check: `npm run check`,
# the TypeScript type check, instead).
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
	echo "build-web: installing Debian's nodejs and npm" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y -qq nodejs npm >/dev/null; then
		$sudo apt-get update -qq
		$sudo apt-get install -y -qq nodejs npm >/dev/null || {
			echo "build-web: could not install nodejs and npm; install them (Node 18 or newer) and run make web again" >&2
			exit 1
		}
	fi
fi

stamp=node_modules/.bai-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	# esbuild's binary comes from its per-platform package (an optional
	# dependency), so no install script needs to run.
	npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
	echo "$want" >"$stamp"
fi
if [ "${1:-}" = "--check" ]; then
	npm run --silent check
else
	npm run --silent build
fi
