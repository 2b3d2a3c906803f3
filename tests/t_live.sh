#!/bin/sh
# Live capture: in a network namespace of its own, the agent captures on the
# namespace's loopback while tests/live_traffic.py makes known TCP, UDP and
# IPv6 connections; after SIGTERM the merged reports must show exactly them.
. "$(dirname "$0")/lib.sh"

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip live "needs root and iproute2 (ip netns)"
	exit 0
fi
NS=d42live$$
cleanup_ns() { ip netns del "$NS" 2>/dev/null; }
trap 'cleanup_ns; rm -rf "$T_TMP"' EXIT
ip netns add "$NS" || { fail live "cannot create network namespace"; exit 0; }
ip -n "$NS" link set lo up

cat >"$T_TMP/live.json" <<JSON
{"common": {"Interval": 2},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name live.json \
	>"$T_TMP/out.json" 2>"$T_TMP/err.log" &
pid=$!
# wait (bounded) until the capture is open
if ! wait_for "$T_TMP/err.log" 'capturing on' 300; then
	fail live_start "agent did not start: $(cat "$T_TMP/err.log")"
	kill $pid 2>/dev/null
	exit 0
fi
ok live_start
timeout 30 ip netns exec "$NS" python3 "$TOP/tests/live_traffic.py" 3 >"$T_TMP/traffic.log" 2>&1 ||
	fail live_traffic "$(cat "$T_TMP/traffic.log")"
sleep 0.5
kill -TERM $pid
i=0
while [ $i -lt 200 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then
	fail live_sigterm "agent still running 5 s after SIGTERM"
	kill -KILL $pid
else
	wait $pid; rc=$?
	[ $rc -eq 0 ] && ok live_sigterm || fail live_sigterm "exit status $rc"
fi

python3 - "$T_TMP/out.json" <<'PY' && ok live_records || fail live_records "see above"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(docs) >= 1, "no report"
recs = {}
for d in docs:
    for r in d["communications"]:
        k = (r["client"], r["server"], r["port"], r["protocol"])
        e = recs.setdefault(k, {"connections": 0, "to_server": 0, "to_client": 0, "dirs": set()})
        e["connections"] += r["connections"]
        e["to_server"] += r["packets_to_server"]
        e["to_client"] += r["packets_to_client"]
        e["dirs"].add(r["direction"])
want = {("127.0.0.1", "127.0.0.1", 8080, "tcp"): 3,
        ("::1", "::1", 8443, "tcp"): 3,
        ("127.0.0.1", "127.0.0.1", 5353, "udp"): 0}
bad = []
for k, conns in want.items():
    if k not in recs:
        bad.append("missing %s" % (k,))
        continue
    e = recs[k]
    if e["connections"] != conns:
        bad.append("%s: connections %d != %d" % (k, e["connections"], conns))
    if k[3] == "udp" and (e["to_server"] != 3 or e["to_client"] != 3):
        bad.append("%s: udp packets %d/%d != 3/3" % (k, e["to_server"], e["to_client"]))
    if k[3] == "tcp" and (e["to_server"] < 3 * 4 or e["to_client"] < 3 * 3):
        bad.append("%s: too few tcp packets %d/%d" % (k, e["to_server"], e["to_client"]))
extra = [k for k in recs if k not in want]
if extra:
    bad.append("unexpected records %s" % extra)
for d in docs:
    if d["agent"]["interface"] != "lo":
        bad.append("interface %s" % d["agent"]["interface"])
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
