#!/bin/sh
# The wall clock set back, then forward, under a live agent (tests/clock_shift.c steps
# CLOCK_REALTIME as the agent sees it): reports go on every interval
# instead of stopping for as long as the step; and a live interval's
# "seconds" is its end - start as printed. Live on the loopback of a
# network namespace of the test's own.
. "$(dirname "$0")/lib.sh"

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip clock "needs root and iproute2 (ip netns)"
	exit 0
fi
if nm -D "$D42PCAP" 2>/dev/null | grep -q '__[atm]san_init' ||
   ldd "$D42PCAP" 2>/dev/null | grep -q 'libasan\|libtsan'; then
	skip clock "sanitizer build: an LD_PRELOADed clock may not come before its runtime"
	exit 0
fi
CC=${CC:-cc}
SHIM=$T_TMP/clock_shift.so
if ! $CC -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -o "$SHIM" \
	"$TOP/tests/clock_shift.c" >"$T_TMP/cc.out" 2>&1; then
	fail clock_build "$(head -c 600 "$T_TMP/cc.out")"
	exit 0
fi
NS=d42clk$$
if ! lo_ns "$NS"; then
	fail clock "cannot create network namespace"
	exit 0
fi
SHIFT=$T_TMP/shift
# clock_agent NAME SETTINGS OUT REGEX: start the agent with the clock
# unshifted, the shim reading SHIFT; sets pid once OUT matches REGEX, else
# fails NAME_start and exits.
clock_agent() {
	echo 0 >"$SHIFT"
	CLOCK_SHIFT_FILE=$SHIFT LD_PRELOAD=$SHIM ip netns exec "$NS" "$D42PCAP" \
		-settings-dir "$T_TMP" -settings-name "$2" >"$3" 2>"$3.err" &
	pid=$!
	if ! wait_for "$3" "$4" 200; then
		fail "$1_start" "not started: $(tail -c 300 "$3") $(cat "$3.err" "$T_TMP/d42pcap.log" 2>/dev/null)"
		kill $pid 2>/dev/null
		exit 0
	fi
}
cat >"$T_TMP/c.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$T_TMP"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
OUT=$T_TMP/out.json
clock_agent clock c.json "$OUT" '"interval"'
sleep 1.5
before=$(wc -l <"$OUT")
echo -3600 >"$SHIFT"		# an hour back
sleep 3.5
after=$(wc -l <"$OUT")
stop_agent $pid TERM clock_exit
# reports after the step: at least two, each ending after it starts and
# starting where the one before ended or later (the step's own report is
# cut at its last packet, maybe at its start: zero seconds)
why=$(python3 -c '
import json, sys, datetime as D
t = lambda s: D.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
reps = [json.loads(l)["interval"] for l in open(sys.argv[1]) if l.strip()]
bad = [r for r in reps if t(r["end"]) - t(r["start"]) != r["seconds"]]
print("seconds is not end - start: %s" % bad[:2] if bad else "")' "$OUT")
[ -z "$why" ] && ok clock_seconds_match_start_end || fail clock_seconds_match_start_end "$why"
[ $((after - before)) -ge 2 ] && ok clock_set_back_reports_go_on ||
	fail clock_set_back_reports_go_on "$before reports before the step, $after 3.5 s after: $(tail -2 "$OUT")"

# The clock set a day forward (a router without a clock booting in 1970,
# then NTP): the interval open at the step ends at its end; the next one
# starts at the new time, not there, so no report claims the day.
OUT2=$T_TMP/out2.json
clock_agent clock_forward c.json "$OUT2" '"interval"'
before=$(wc -l <"$OUT2")
echo 86400 >"$SHIFT"
sleep 3.5
after=$(wc -l <"$OUT2")
stop_agent $pid TERM clock_forward_exit
why=$(python3 -c '
import json, sys
reps = [json.loads(l)["interval"] for l in open(sys.argv[1]) if l.strip()]
long = [r for r in reps if r["seconds"] > 2]
print("a report longer than two intervals: %s" % long[:1] if long else "")' "$OUT2")
if [ -z "$why" ] && [ $((after - before)) -ge 2 ]; then
	ok clock_set_forward_intervals_stay_short
else
	fail clock_set_forward_intervals_stay_short "${why:-only $((after - before)) reports after the step}"
fi

# No capture (an interface that does not exist yet) when the clock is set
# back: the downtime still counts in the reports after the step, instead of
# 0 until the clock has caught up with where it was.
cat >"$T_TMP/d.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$T_TMP"},
 "pcap": {"Device": "d42none0", "promiscuous-mode": false}}
JSON
OUT3=$T_TMP/out3.json
clock_agent clock_back_downtime d.json "$OUT3" '"capture_down_seconds":1'
echo -3600 >"$SHIFT"
sleep 4.5
stop_agent $pid TERM clock_back_downtime_exit
why=$(python3 -c '
import json, sys, datetime as D
t = lambda s: D.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
reps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
back = [r for r in reps if t(r["interval"]["start"]) < t(reps[0]["interval"]["start"])]
full = [r for r in back[1:-1] if r["interval"]["seconds"] >= 1]
bad = [r["stats"]["capture_down_seconds"] for r in full if r["stats"]["capture_down_seconds"] < 1]
print("" if full and not bad else "after the step: %d reports, down seconds %s" %
      (len(back), [r["stats"]["capture_down_seconds"] for r in back]))' "$OUT3")
[ -z "$why" ] && ok clock_back_downtime_counts || fail clock_back_downtime_counts "$why"

# No capture, and the clock set an hour forward: the downtime of the gap is
# no interval's either; no report has more down seconds than seconds.
OUT4=$T_TMP/out4.json
clock_agent clock_forward_downtime d.json "$OUT4" '"capture_down_seconds":1'
echo 3600 >"$SHIFT"
sleep 3.5
stop_agent $pid TERM clock_forward_downtime_exit
why=$(python3 -c '
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [(r["interval"]["seconds"], r["stats"]["capture_down_seconds"]) for r in reps
       if r["stats"]["capture_down_seconds"] > r["interval"]["seconds"]]
print("(seconds, down seconds) %s" % bad if bad else "")' "$OUT4")
[ -z "$why" ] && ok clock_forward_downtime_bounded || fail clock_forward_downtime_bounded "$why"

# A listener learned before the clock is set back expires a listener-ttl
# after the step, not once the clock is back where it was: its last-seen
# time, now an hour ahead, never looked older than the TTL (stats.listeners
# stayed 1 in every report, the stale listener deciding directions).
cat >"$T_TMP/l.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$T_TMP", "listener-ttl": 1},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
OUT5=$T_TMP/out5.json
clock_agent clock_back_listener l.json "$OUT5" '"interval"'
ip netns exec "$NS" python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 7070)); s.listen(1)
c = socket.create_connection(("127.0.0.1", 7070)); a, _ = s.accept()
c.close(); a.close(); s.close()'
if wait_for "$OUT5" '"listeners":1' 50; then
	echo -3600 >"$SHIFT"
	sleep 4
	stop_agent $pid TERM clock_back_listener_exit
	tail -1 "$OUT5" | grep -q '"listeners":0' && ok clock_back_listener_expires ||
		fail clock_back_listener_expires "after the step: $(tail -1 "$OUT5" | grep -o '"listeners":[0-9]*')"
else
	fail clock_back_listener_expires "the handshake made no listener: $(tail -c 300 "$OUT5")"
	stop_agent $pid TERM
fi

# Nothing captured, and the clock set an hour forward (or a suspend): poll()
# sleeps in monotonic time, which the step (or suspend) does not move, so
# the agent slept on for the rest of the interval, here up to 600 s, before
# reporting the one long ended. Its sleep is bounded (AGENT_MAX_SLEEP_MS):
# the report must follow within that.
cat >"$T_TMP/s.json" <<JSON
{"common": {"Interval": 600, "logs-dir": "$T_TMP"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
OUT6=$T_TMP/out6.json
# not within 30 s of a 600 s boundary: the report must owe nothing to one
left=$((600 - $(date +%s) % 600))
[ $left -gt 30 ] || sleep $((left + 1))
echo 0 >"$SHIFT"
CLOCK_SHIFT_FILE=$SHIFT LD_PRELOAD=$SHIM ip netns exec "$NS" "$D42PCAP" \
	-settings-dir "$T_TMP" -settings-name s.json >"$OUT6" 2>"$OUT6.err" &
pid=$!
wait_for "$T_TMP/d42pcap.log" 'capturing on lo \(interval 600s' 200 ||
	fail clock_forward_asleep_start "$(tail -3 "$T_TMP/d42pcap.log")"
sleep 1
echo 3600 >"$SHIFT"
if wait_for "$OUT6" '"interval"' 150; then
	ok clock_forward_asleep_reports
else
	fail clock_forward_asleep_reports "no report 15 s after the clock was set an hour forward"
fi
stop_agent $pid TERM clock_forward_asleep_exit
