#!/bin/sh
# interface_drops when the interface's own drop counters go back. libpcap
# (promiscuous mode) takes them from the interface's rx_missed_errors and
# rx_fifo_errors in sysfs; a driver resets them, and they read as 0 once the
# interface is gone. Here a file bind-mounted over rx_missed_errors plays
# the interface: 5 when the capture opens, then 0 (reset), then 12 (twelve
# missed after the reset). The reports must say 0 and then 12 in all; the
# reset used to be reported as 4294967291 drops.
. "$(dirname "$0")/lib.sh"

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip ifdrops "needs root and iproute2 (ip netns)"
	exit 0
fi
NS=d42ifd$$
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T_TMP"' EXIT
if ! ip netns add "$NS" || ! ip -n "$NS" link add va type veth peer name vb ||
	! ip -n "$NS" link set va up || ! ip -n "$NS" link set vb up; then
	skip ifdrops "cannot create a namespace with a veth pair"
	exit 0
fi
STAT=/sys/class/net/va/statistics/rx_missed_errors
echo 5 >"$T_TMP/missed"
cat >"$T_TMP/s.json" <<JSON
{"common": {"Interval": 1},
 "pcap": {"Device": "va", "promiscuous-mode": true, "sniff-timeout": "10ms"}}
JSON
# One mount namespace for the bind mount and the agent (ip netns exec makes
# a new one each time, with the namespace's own /sys).
ip netns exec "$NS" sh -c 'mount --bind "$1" "$2" && exec "$3" -settings-dir "$4" \
	-settings-name s.json' sh "$T_TMP/missed" "$STAT" "$D42PCAP" "$T_TMP" \
	>"$T_TMP/out.json" 2>"$T_TMP/err.log" &
pid=$!
# reports N: wait (bounded) until N reports are written
reports() {
	w=0
	while [ $w -lt 100 ] && [ "$(grep -c . "$T_TMP/out.json")" -lt "$1" ]; do
		sleep 0.1
		w=$((w + 1))
	done
}
if ! wait_for "$T_TMP/err.log" 'capturing on' 100; then
	if grep -q 'mount' "$T_TMP/err.log"; then
		skip ifdrops "cannot bind-mount over sysfs: $(head -c 200 "$T_TMP/err.log")"
	else
		fail ifdrops_counter_reset "agent did not start: $(head -c 300 "$T_TMP/err.log")"
	fi
	kill $pid 2>/dev/null
	exit 0
fi
reports 1
echo 0 >"$T_TMP/missed"
n=$(grep -c . "$T_TMP/out.json")
reports $((n + 2))
echo 12 >"$T_TMP/missed"
n=$(grep -c . "$T_TMP/out.json")
reports $((n + 2))
stop_agent $pid TERM
python3 - "$T_TMP/out.json" <<'PY' && ok ifdrops_counter_reset || fail ifdrops_counter_reset "see above"
import json, sys
drops = [json.loads(l)["stats"]["interface_drops"] for l in open(sys.argv[1]) if l.strip()]
if sum(drops) != 12 or max(drops) != 12:
    print("interface_drops per report: %s (12 in all expected)" % drops)
    sys.exit(1)
PY
