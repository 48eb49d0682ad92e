#!/usr/bin/env bash
# build.sh builds the kernel images from the recipes beside it.
#
# Usage: agent/images/build.sh [options] [RECIPE[,RECIPE...] ...]
#
#   RECIPE        a folder name here (python, ...); "all" or nothing means every
#                 language recipe. Comma- and space-separated lists both work,
#                 and $LANGS is read when no recipe is named.
#   -f, --force   rebuild the named recipes even when up to date, without
#                 docker's layer cache (not their parents: name base too)
#   -v, --verbose show the full output of debootstrap and docker build
#   -l, --list    print "recipe reference state hash" for every recipe and exit
#   -h, --help    this text
#
# A recipe is a folder with a `meta` file (key=value lines: image=NAME:TAG,
# from=PARENT-RECIPE, kind=rootfs for the Debian base) and, for language
# layers, a Dockerfile that starts with `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`.
# Images are tagged $BAI_IMAGE_PREFIX (default "bai/") + image, e.g.
# bai/python:3.11-debian, and carry the label ai.backend.bai.recipe-hash: the
# sha256 of the recipe's files (and of its parent's hash), so an unchanged
# recipe is skipped. A new image is tagged only once fully built.
#
# The apt mirror comes from this machine's own apt sources
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources);
# $BAI_APT_MIRROR and $BAI_APT_SECURITY_MIRROR ("none" to skip) override it.
# Logs go to $BAI_IMAGES_LOGDIR (default ${TMPDIR:-/tmp}/bai-images).
set -euo pipefail

# Bump when this script changes how images are made: it invalidates every hash.
readonly SCHEME=1
readonly LABEL_HASH=ai.backend.bai.recipe-hash

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
prefix=${BAI_IMAGE_PREFIX:-bai/}
logdir=${BAI_IMAGES_LOGDIR:-${TMPDIR:-/tmp}/bai-images}
t0=$SECONDS
force=0
verbose=${BAI_IMAGES_VERBOSE:-0}
list=0
requested=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

say() { # say TAG MESSAGE: one progress line with the elapsed time.
	printf '[%4ss] [%s] %s\n' "$((SECONDS - t0))" "$1" "$2"
}
die() { # die TAG MESSAGE
	printf '[%4ss] [%s] ERROR: %s\n' "$((SECONDS - t0))" "$1" "$2" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	-f | --force) force=1 ;;
	-v | --verbose) verbose=1 ;;
	-l | --list) list=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	-*) die build "unknown option $1 (try --help)" ;;
	*)
		IFS=', ' read -r -a parts <<<"$1"
		requested+=("${parts[@]}")
		;;
	esac
	shift
done
if [[ ${#requested[@]} -eq 0 && -n ${LANGS:-} ]]; then
	IFS=', ' read -r -a requested <<<"$LANGS"
fi

# as_root runs a command as root: directly, or through password-less sudo.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die build "'$1' needs root: rerun as root (or with password-less sudo)"
	fi
}

# ---- recipes ---------------------------------------------------------------

# meta_get RECIPE KEY: the first value of KEY in the recipe's meta file.
meta_get() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line == "$2="* ]] && {
			printf '%s\n' "${line#*=}"
			return 0
		}
	done <"$here/$1/meta"
	return 0
}

# meta_all RECIPE KEY: every value of KEY, one per line.
meta_all() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line == "$2="* ]] && printf '%s\n' "${line#*=}"
	done <"$here/$1/meta"
	return 0
}

all_recipes() { # every folder with a meta file
	local d
	for d in "$here"/*/meta; do
		[[ -e $d ]] || continue
		d=${d%/meta}
		basename "$d"
	done
}

lang_recipes() { # recipes that are language layers (not rootfs kinds)
	local r
	for r in $(all_recipes); do
		[[ $(meta_get "$r" kind) == rootfs ]] || echo "$r"
	done
}

ref_of() {
	local img
	img=$(meta_get "$1" image)
	[[ -n $img ]] || die "$1" "$here/$1/meta has no image= line"
	echo "$prefix$img"
}

# recipe_hash RECIPE: sha256 over the recipe's files and its parent's hash.
recipe_hash() {
	local r=$1 from parent=""
	from=$(meta_get "$r" from)
	if [[ -n $from ]]; then
		[[ -f $here/$from/meta ]] || die "$r" "from=$from: no recipe folder $here/$from"
		parent=$(recipe_hash "$from")
	fi
	{
		echo "scheme $SCHEME"
		echo "recipe $r"
		echo "parent $parent"
		(cd "$here/$r" && find . -type f ! -name '*~' ! -name '.*.swp' -print0 |
			LC_ALL=C sort -z | xargs -0 -r sha256sum)
	} | sha256sum | cut -c1-64
}

image_hash() { # the recipe-hash label of an image, empty when there is none
	docker image inspect -f "{{index .Config.Labels \"$LABEL_HASH\"}}" "$1" 2>/dev/null |
		sed 's/<no value>//' || true
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# ---- running a long tool with visible progress -----------------------------

# run_logged TAG LOG PATTERN CMD...: runs CMD with its output in LOG, shows the
# lines matching PATTERN (all lines with --verbose) as they come, and a
# heartbeat line with the latest output every 15 s of silence.
run_logged() {
	local tag=$1 log=$2 pat=$3 pid rc=0 shown=0 n last=$SECONDS line
	shift 3
	[[ $verbose == 1 ]] && pat='.'
	"$@" >"$log" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064
	trap "kill $pid 2>/dev/null || true" INT TERM
	while :; do
		local running=1
		kill -0 "$pid" 2>/dev/null || running=0
		n=$(wc -l <"$log")
		if ((n > shown)); then
			while IFS= read -r line; do
				say "$tag" "  $line"
				last=$SECONDS
			done < <(sed -n "$((shown + 1)),${n}p" "$log" | grep -E -- "$pat" || true)
			shown=$n
		fi
		[[ $running == 1 ]] || break
		if ((SECONDS - last >= 15)); then
			line=$(tail -n 1 "$log" | cut -c1-100)
			say "$tag" "  … still working; latest: ${line:-(no output yet)}"
			last=$SECONDS
		fi
		sleep 1
	done
	wait "$pid" || rc=$?
	trap - INT TERM
	return "$rc"
}

fail_with_log() { # fail_with_log TAG WHAT LOG HINT
	{
		echo "---- last 30 lines of $3 ----"
		tail -n 30 "$3" || true
		echo "---- end ----"
	} >&2
	die "$1" "$2 (full log: $3). $4"
}

# ---- apt sources of this machine -------------------------------------------

# host_apt_entries prints "URI SUITE COMPONENTS..." for every enabled deb entry
# of this machine's apt sources, one-line and deb822 formats alike.
host_apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		sed -e 's/#.*//' "$f" | awk '
			$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				line = $i " " $(i + 1)
				for (j = i + 2; j <= NF; j++) line = line " " $j
				print line
			}'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk '
			function flush(   nu, ns, u, s, a, b) {
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
					nu = split(uris, a, /[ \t]+/); ns = split(suites, b, /[ \t]+/)
					for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++)
						if (a[u] != "" && b[s] != "") print a[u], b[s], comps
				}
				types = uris = suites = comps = ""; enabled = "yes"
			}
			BEGIN { enabled = "yes" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "components") comps = val
				else if (key == "enabled") enabled = val
			}
			END { flush() }' "$f"
	done
}

# pick_mirrors sets mirror and security_mirror from the host's apt sources:
# the first Debian-looking entry (a Debian suite name, component main).
pick_mirrors() {
	local codenames='buster|bullseye|bookworm|trixie|forky|duke|sid|stable|oldstable|testing|unstable'
	local uri suite comps
	mirror=${BAI_APT_MIRROR:-}
	security_mirror=${BAI_APT_SECURITY_MIRROR:-}
	while read -r uri suite comps; do
		[[ " $comps " == *" main "* ]] || continue
		if [[ -z $mirror && $suite =~ ^($codenames)$ ]]; then
			mirror=$uri
		elif [[ -z $security_mirror && $suite =~ ^($codenames)(-security|/updates)$ ]]; then
			security_mirror=$uri
		fi
	done < <(host_apt_entries)
	[[ $security_mirror == none ]] && security_mirror=""
	[[ -n $mirror ]] || die base "found no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}: add one there, or set BAI_APT_MIRROR=<mirror URL>"
	return 0
}

# ---- building --------------------------------------------------------------

rootfs=""
cleanup_rootfs() {
	[[ -n $rootfs && -d $rootfs ]] || return 0
	local m
	# Anything debootstrap left mounted below the rootfs goes first, deepest
	# first; rm must never walk into a mounted /proc or /dev.
	for m in $(awk -v r="$rootfs/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		as_root umount -l "$m" 2>/dev/null || true
	done
	if awk -v r="$rootfs/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "build.sh: left $rootfs in place: something is still mounted below it" >&2
	else
		as_root rm -rf --one-file-system "$rootfs"
	fi
	rootfs=""
}
trap cleanup_rootfs EXIT

# retag REF NEWID: points REF at NEWID and drops the image it replaced when
# nothing else uses it.
retag() {
	local ref=$1 id=$2 old
	old=$(image_id "$ref")
	docker tag "$id" "$ref"
	if [[ -n $old && $old != "$id" ]]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
}

build_rootfs() { # build_rootfs RECIPE REF HASH
	local r=$1 ref=$2 hash=$3 suite distro log id start=$SECONDS
	local -a changes=() include=()
	suite=$(meta_get "$r" suite)
	distro=$(meta_get "$r" distro)
	[[ -n $suite ]] || die "$r" "$here/$r/meta has no suite= line"

	"$repo/scripts/ensure-docker.sh" --debootstrap ||
		die "$r" "docker or debootstrap is not available (see above)"
	local debootstrap
	debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
	pick_mirrors
	[[ $mirror == https:* ]] && include=(--include=ca-certificates)

	rootfs=$(as_root mktemp -d /var/tmp/bai-rootfs.XXXXXX)
	log=$logdir/$r-debootstrap.log
	say "$r" "debootstrap $suite (minbase) from $mirror into $rootfs (about 1 minute; log $log)…"
	run_logged "$r" "$log" '^[WE]: |^I: (Retrieving|Validating) [A-Z]|^I: [^ ]+ [^ ]+ .*\.\.\.$|^I: Base system|^I: Checking' \
		as_root env LANG=C "$debootstrap" --variant=minbase --components=main "${include[@]}" \
		"$suite" "$rootfs" "$mirror" ||
		fail_with_log "$r" "debootstrap failed" "$log" \
			"Check that $mirror answers from this machine (or set BAI_APT_MIRROR), then rerun."

	say "$r" "configuring the rootfs (apt sources from this host, user work, trimming docs)…"
	{
		echo "deb $mirror $suite main"
		echo "deb $mirror $suite-updates main"
		[[ -n $security_mirror ]] && echo "deb $security_mirror $suite-security main"
	} | as_root tee "$rootfs/etc/apt/sources.list" >/dev/null
	# Snapshot mirrors need the host's relaxed date checks too.
	apt-config dump Acquire::Check-Valid-Until Acquire::Check-Date 2>/dev/null |
		grep -E '^Acquire::Check-(Valid-Until|Date) "false";$' |
		as_root tee "$rootfs/etc/apt/apt.conf.d/80bai-host" >/dev/null || true
	as_root cp -a "$here/$r/rootfs/." "$rootfs/"
	as_root chown -R 0:0 "$rootfs/etc/apt/apt.conf.d" "$rootfs/etc/dpkg/dpkg.cfg.d"
	as_root cp "$here/$r/setup.sh" "$rootfs/tmp/bai-setup.sh"
	log=$logdir/$r-setup.log
	run_logged "$r" "$log" '.' as_root env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
		chroot "$rootfs" /bin/sh /tmp/bai-setup.sh ||
		fail_with_log "$r" "$r/setup.sh failed inside the rootfs" "$log" "Fix the script and rerun."
	as_root rm -f "$rootfs/tmp/bai-setup.sh"

	while IFS= read -r line; do changes+=(--change "$line"); done < <(meta_all "$r" change)
	changes+=(--change "LABEL $LABEL_HASH=$hash")
	[[ -n $distro ]] && changes+=(--change "LABEL ai.backend.base-distro=$distro")
	say "$r" "docker import ($(as_root du -sh --one-file-system "$rootfs" | cut -f1) rootfs)…"
	id=$(as_root tar -C "$rootfs" --numeric-owner --one-file-system -c . |
		docker import "${changes[@]}" -m "bai $r rootfs ($suite, recipe $hash)" -) ||
		die "$r" "docker import failed (see above); is there room in /var/lib/docker?"
	cleanup_rootfs
	retag "$ref" "$id"
	say "$r" "built $ref in $((SECONDS - start))s ($(image_size "$ref"), hash ${hash:0:12})"
}

build_dockerfile() { # build_dockerfile RECIPE REF HASH PARENT-REF
	local r=$1 ref=$2 hash=$3 parent=$4 log iid id start=$SECONDS
	local -a args=()
	[[ -f $here/$r/Dockerfile ]] || die "$r" "no Dockerfile in $here/$r"
	log=$logdir/$r-build.log
	iid=$(mktemp "$logdir/$r-iid.XXXXXX")
	[[ -n $parent ]] && args+=(--build-arg "BASE_IMAGE=$parent")
	[[ $force == 1 ]] && args+=(--no-cache)
	local v
	for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
		[[ -n ${!v:-} ]] && args+=(--build-arg "$v")
	done
	say "$r" "docker build from ${parent:-scratch} (log $log)…"
	# The classic builder: it is what Debian's docker.io has everywhere, needs
	# no buildx plugin and sees locally imported images without a registry.
	run_logged "$r" "$log" '^Step [0-9]+/[0-9]+ :|^E: |^Err:|error|returned a non-zero code' \
		env DOCKER_BUILDKIT=0 docker build --force-rm --iidfile "$iid" --label "$LABEL_HASH=$hash" "${args[@]}" \
		-f "$here/$r/Dockerfile" "$here/$r" ||
		fail_with_log "$r" "docker build failed" "$log" \
			"An apt error usually means the mirror is unreachable from containers (check 'docker run --rm $parent apt-get update'); rerun with -v for the full output."
	id=$(cat "$iid")
	rm -f "$iid"
	[[ -n $id ]] || die "$r" "docker build wrote no image id"
	retag "$ref" "$id"
	say "$r" "built $ref in $((SECONDS - start))s ($(image_size "$ref"), hash ${hash:0:12})"
}

image_size() {
	local b
	b=$(docker image inspect -f '{{.Size}}' "$1" 2>/dev/null || echo 0)
	echo "$((b / 1000000)) MB"
}

declare -A done_recipes=()

# ensure RECIPE: builds RECIPE (and, when needed, its parents) unless its image
# already carries the current recipe hash.
ensure() {
	local r=$1 ref hash from parent_ref=""
	[[ -n ${done_recipes[$r]:-} ]] && return 0
	ref=$(ref_of "$r")
	hash=$(recipe_hash "$r")
	# --force rebuilds the recipes named, not their parents.
	if [[ ($force == 0 || " ${requested[*]} " != *" $r "*) && $(image_hash "$ref") == "$hash" ]]; then
		say "$r" "up to date: $ref (hash ${hash:0:12})"
		done_recipes[$r]=1
		return 0
	fi
	from=$(meta_get "$r" from)
	if [[ -n $from ]]; then
		ensure "$from"
		parent_ref=$(ref_of "$from")
	fi
	if [[ $(meta_get "$r" kind) == rootfs ]]; then
		build_rootfs "$r" "$ref" "$hash"
	else
		build_dockerfile "$r" "$ref" "$hash" "$parent_ref"
	fi
	done_recipes[$r]=1
}

# ---- main ------------------------------------------------------------------

known=$(all_recipes | tr '\n' ' ')
if [[ ${#requested[@]} -eq 0 || " ${requested[*]} " == *" all "* ]]; then
	mapfile -t requested < <(lang_recipes)
fi
for r in "${requested[@]}"; do
	[[ -f $here/$r/meta ]] || die build "unknown recipe '$r'; known: $known"
done
for r in $(all_recipes); do
	from=$(meta_get "$r" from)
	[[ -z $from || -f $here/$from/meta ]] || die "$r" "from=$from in $here/$r/meta: no such recipe"
done

"$repo/scripts/ensure-docker.sh" || die build "docker is not available (see above)"

if [[ $list == 1 ]]; then
	for r in $(all_recipes); do
		ref=$(ref_of "$r")
		hash=$(recipe_hash "$r")
		have=$(image_hash "$ref")
		state=missing
		[[ -n $(image_id "$ref") ]] && state=stale
		[[ $have == "$hash" ]] && state=up-to-date
		printf '%s %s %s %s\n' "$r" "$ref" "$state" "$hash"
	done
	exit 0
fi

mkdir -p "$logdir"
lock=$logdir/build.lock
exec 9>"$lock"
if ! flock -n 9; then
	say build "another build.sh is running (lock $lock); waiting for it…"
	flock 9
fi

for r in "${requested[@]}"; do
	ensure "$r"
done
say build "done: ${requested[*]}"
