#!/bin/sh
# Install the Debian packages named as arguments that are missing. As root it
# runs apt-get; otherwise it prints the exact command and fails.
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages:$missing (not a Debian system: install them by hand)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the lists only once per hour at most: CI and demo call this often.
lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -60 2>/dev/null | head -1)
[ -n "$lists" ] || apt-get update -qq || exit 1
apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } || exit 1
