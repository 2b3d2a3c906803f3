#!/bin/sh
# fetch.sh [musl|libpcap|mbedtls ...]: make sure third_party/dl/ holds the
# pinned upstream tarball of each named component (default: all), with the
# SHA-256 listed in third_party/SHA256SUMS.
#
# Order of sources:
#   1. third_party/dl/ (or $D42_DL_DIR): the upstream file name or Debian's
#      .orig name; a user without Debian drops upstream tarballs there.
#   2. On Debian hosts: `apt-get source --download-only` from Debian 13
#      (trixie). The deb-src entry is derived from this machine's own Debian
#      source list (or $D42_DEBIAN_MIRROR) and lives in a private apt state
#      under third_party/src/apt/, so the host's apt setup is not touched and
#      root is not needed.
# Every tarball is checked against SHA256SUMS before it is used.
set -eu

TP=$(cd "$(dirname "$0")" && pwd)
DL=${D42_DL_DIR:-$TP/dl}
APTD=$TP/src/apt
SUITE=trixie
ETC_APT=${D42_APT_ETC:-/etc/apt}   # where the host's source list is
# shellcheck source=third_party/versions.env
. "$TP/versions.env"

# Parallel builds (make -j) may run several fetches at once: one at a time.
if [ -z "${D42_FETCH_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
	mkdir -p "$TP/src"
	D42_FETCH_LOCKED=1 exec flock "$TP/src/.fetch.lock" sh "$0" "$@"
fi

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
say() { echo "fetch.sh: $*" >&2; }

expected_sum() {
	awk -v f="$1" '$2 == f { print $1; exit }' "$TP/SHA256SUMS"
}

# verify FILE NAME: FILE's SHA-256 must be the one pinned for NAME.
verify() {
	want=$(expected_sum "$2")
	[ -n "$want" ] || die "no checksum pinned for $2 in third_party/SHA256SUMS"
	got=$(sha256sum "$1" | awk '{ print $1 }')
	if [ "$got" != "$want" ]; then
		die "checksum mismatch for $1
  expected $want
  got      $got
Remove or replace the file (see docs/STATIC.md)."
	fi
}

# Print "URI<TAB>SIGNED-BY" of the first Debian archive entry in the host's
# apt sources (deb822 .sources and one-line .list files).
debian_archive() {
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] &&
		echo "${VERSION_CODENAME:-}")
	suites=" sid unstable testing stable oldstable oldoldstable forky trixie bookworm bullseye buster $codename "
	{
		for f in "$ETC_APT"/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk 'BEGIN { RS = ""; FS = "\n" }
			{
				t = ""; u = ""; s = ""; k = ""; on = "yes"
				for (i = 1; i <= NF; i++) {
					l = $i
					if (l ~ /^#/ || l !~ /^[A-Za-z-]+:/) continue
					key = tolower(substr(l, 1, index(l, ":") - 1))
					v = substr(l, index(l, ":") + 1)
					gsub(/^[ \t]+|[ \t]+$/, "", v)
					if (key == "types") t = v
					else if (key == "uris") u = v
					else if (key == "suites") s = v
					else if (key == "signed-by") k = v
					else if (key == "enabled") on = tolower(v)
				}
				if (on != "no" && t ~ /deb/)
					print u "\t" s "\t" k
			}' "$f"
		done
		for f in "$ETC_APT"/sources.list "$ETC_APT"/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk '$1 == "deb" || $1 == "deb-src" {
				k = ""; i = 2
				if ($2 ~ /^\[/) {
					for (; i <= NF; i++) {
						if ($i ~ /signed-by=/) {
							k = $i; sub(/.*signed-by=/, "", k); sub(/\]$/, "", k)
						}
						if ($i ~ /\]$/) { i++; break }
					}
				}
				print $i "\t" $(i + 1) "\t" k
			}' "$f"
		done
	} | while IFS="$(printf '\t')" read -r uris ss key; do
		for u in $uris; do
			case $u in *security*) continue ;; esac
			for s in $ss; do
				case $suites in *" $s "*)
					# Only a keyring file is reused; inline keys are not.
					case $key in /*) ;; *) key= ;; esac
					printf '%s\t%s\n' "$u" "$key"
					exit 0 ;;
				esac
			done
		done
	done
}

APT_READY=
apt_setup() {
	[ -z "$APT_READY" ] || return 0
	if [ -n "${D42_DEBIAN_MIRROR:-}" ]; then
		uri=$D42_DEBIAN_MIRROR; key=
	else
		line=$(debian_archive)
		[ -n "$line" ] || die "no Debian archive found in $ETC_APT/sources.list{,.d}; \
set D42_DEBIAN_MIRROR=<Debian mirror URI> or put the tarballs in $DL"
		uri=$(printf '%s' "$line" | cut -f1)
		key=$(printf '%s' "$line" | cut -f2)
	fi
	if [ -z "$key" ] && [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
		key=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	mkdir -p "$APTD/lists/partial" "$APTD/cache/archives/partial" "$APTD/parts"
	{
		echo "Types: deb-src"
		echo "URIs: $uri"
		echo "Suites: $SUITE"
		echo "Components: main"
		[ -z "$key" ] || echo "Signed-By: $key"
	} >"$APTD/d42pcap-src.sources"
	set -- -o "Dir::Etc::SourceList=$APTD/d42pcap-src.sources" \
		-o "Dir::Etc::SourceParts=$APTD/parts" \
		-o "Dir::State::Lists=$APTD/lists" \
		-o "Dir::Cache=$APTD/cache" \
		-o "APT::Sandbox::User=$(id -un)"
	APT_OPTS="$*"
	say "deb-src $SUITE from $uri (private apt state in $APTD)"
	# shellcheck disable=SC2086
	apt-get $APT_OPTS -q update >"$APTD/update.log" 2>&1 ||
		die "apt-get update of the $SUITE deb-src entry failed; see $APTD/update.log"
	APT_READY=1
}

# debian_fetch PKG DEBVER ORIG: download PKG's source package, print the
# path of its .orig tarball.
debian_fetch() {
	tmp=$APTD/get.$$
	rm -rf "$tmp"; mkdir -p "$tmp"
	# The pinned revision first; if the archive has moved on, the current
	# one, whose .orig must still match the pinned checksum.
	# shellcheck disable=SC2086
	(cd "$tmp" && { apt-get $APT_OPTS -q source --download-only "$1=$2" ||
		apt-get $APT_OPTS -q source --download-only "$1"; }) >"$APTD/source-$1.log" 2>&1 ||
		die "apt-get source $1 failed; see $APTD/source-$1.log"
	[ -f "$tmp/$3" ] || die "$1 in $SUITE no longer ships $3; put the pinned tarball in $DL"
	echo "$tmp/$3"
}

fetch_one() {
	case $1 in
	musl) tarball=$MUSL_TARBALL orig=$MUSL_ORIG debsrc=$MUSL_DEBSRC debver=$MUSL_DEBVER ;;
	libpcap) tarball=$LIBPCAP_TARBALL orig=$LIBPCAP_ORIG debsrc=$LIBPCAP_DEBSRC debver=$LIBPCAP_DEBVER ;;
	mbedtls) tarball=$MBEDTLS_TARBALL orig=$MBEDTLS_ORIG debsrc=$MBEDTLS_DEBSRC debver=$MBEDTLS_DEBVER ;;
	*) die "unknown component: $1" ;;
	esac
	mkdir -p "$DL"
	if [ -f "$DL/$tarball" ]; then
		verify "$DL/$tarball" "$tarball"
		return 0
	fi
	if [ -f "$DL/$orig" ]; then
		verify "$DL/$orig" "$orig"
		cp "$DL/$orig" "$DL/$tarball.tmp"
	else
		command -v apt-get >/dev/null 2>&1 ||
			die "$tarball is not in $DL and this is not a Debian host: download it there (see third_party/README.md)"
		say "$tarball not in $DL: fetching Debian source package $debsrc"
		apt_setup
		f=$(debian_fetch "$debsrc" "$debver" "$orig")
		verify "$f" "$orig"
		mv "$f" "$DL/$tarball.tmp"
		rm -rf "$(dirname "$f")"
	fi
	mv "$DL/$tarball.tmp" "$DL/$tarball"
	say "$DL/$tarball: ok"
}

[ $# -gt 0 ] || set -- musl libpcap mbedtls
for c in "$@"; do fetch_one "$c"; done
