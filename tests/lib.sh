# Shared helpers for shell tests (sourced). Each test prints lines
# "ok NAME", "FAIL NAME: why" or "SKIP NAME: why"; tests/run.sh counts them.
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
D42PCAP=${D42PCAP:-$TOP/d42pcap}
SHARED=${D42_SHARED:-$TOP/../shared}
CORPUS=$SHARED/corpus
GEN="python3 $TOP/tests/gen_pcap.py"
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/d42t.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT

ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
# check NAME COMMAND...: ok if the command succeeds
check() { n=$1; shift; if "$@" >"$T_TMP/check.out" 2>&1; then ok "$n"; else fail "$n" "$(head -c 600 "$T_TMP/check.out")"; fi; }
have_corpus() { [ -f "$CORPUS/MANIFEST.tsv" ]; }
is_root() { [ "$(id -u)" = 0 ]; }
# stop_agent PID SIGNAL [NAME]: send SIGNAL, wait up to 20 s (then KILL);
# returns the exit status. With NAME, it must be 0 in time (ok/fail NAME).
stop_agent() {
	kill -"$2" "$1"
	w=0
	while [ $w -lt 200 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; w=$((w + 1)); done
	if kill -0 "$1" 2>/dev/null; then
		[ -z "${3:-}" ] || fail "$3" "still running 20 s after SIG$2"
		kill -KILL "$1"
		wait "$1"
		return
	fi
	wait "$1"
	st=$?
	if [ -n "${3:-}" ]; then
		[ $st -eq 0 ] && ok "$3" || fail "$3" "exit status $st after SIG$2"
	fi
	return $st
}

# lo_ns NS: a network namespace with its loopback up, deleted on exit (with
# $T_TMP); 1 if it cannot be made.
lo_ns() {
	trap 'ip netns del "'"$1"'" 2>/dev/null; rm -rf "$T_TMP"' EXIT
	ip netns add "$1" && ip -n "$1" link set lo up
}

# ns_udp NS PORT N: N datagrams to 127.0.0.1:PORT inside network namespace NS
ns_udp() {
	ip netns exec "$1" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))' "$2" "$3"
}

# wait_for FILE EXTENDED-REGEX [TENTHS]: 0 once a line of FILE matches,
# 1 after TENTHS tenths of a second (default 15 s)
wait_for() {
	w=0
	while [ $w -lt "${3:-150}" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		w=$((w + 1))
	done
	return 1
}
