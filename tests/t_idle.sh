#!/bin/sh
# Idle cost of a live capture (issue 6): on a veth in network namespaces of
# its own, the agent must use no measurable CPU and sleep in poll() until
# something is due, both with no traffic at all and with a light trickle
# (5 UDP datagrams a second, each answered by an ICMP port-unreachable).
#
# Two measures over each window, read from /proc before and after:
#  - CPU: utime + stime of /proc/PID/stat, in clock ticks (getconf CLK_TCK,
#    100 on Linux). The kernel scales these from the task's exact run time,
#    so they are not tick samples: an agent that sleeps in poll() shows 0.
#  - wake-ups: voluntary_ctxt_switches + nonvoluntary_ctxt_switches of
#    /proc/PID/status. Every return from a poll() that slept is one
#    voluntary switch, so this counts the loop's iterations that slept.
# The two catch different defects: a loop polling with a zero timeout never
# sleeps (few switches, but a whole CPU), one polling every millisecond
# barely uses CPU but wakes 1000 times a second. Before trusting the check,
# each half is run against the kind of deliberately bad process it is meant
# to catch, bounded in time, and must flag it.
. "$(dirname "$0")/lib.sh"

WIN=5				# seconds per measured window
# At most MAX_TICKS ticks (30 ms at CLK_TCK 100, 0.6% of one CPU) per window.
# The agent, asleep in poll(), measures 0; a few ticks leave room for a
# report being cut in the window (Interval is 60 s, intervals end on whole
# minutes, so one may fall inside) and for the trickle's decoding. A busy
# loop measures about WIN * CLK_TCK (500) ticks, two orders above.
MAX_TICKS=3
# No traffic: nothing is due in the window but, perhaps, the end of an
# interval, so at most one wake-up a second on average (anything waking
# more often fails). With the trickle: at most two wake-ups per captured packet
# (a datagram and its ICMP answer usually reach the agent in one ring block:
# one wake-up) plus that same once a second. A 1 ms poll loop wakes
# about 1000 times a second.
MAX_IDLE_WAKES=$WIN
TRICKLE_PPS=5

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip idle "needs root and iproute2 (ip netns)"
	exit 0
fi
if [ ! -r /proc/self/stat ] || ! grep -q '^voluntary_ctxt_switches' /proc/self/status; then
	skip idle "needs /proc/PID/stat and context-switch counts in /proc/PID/status"
	exit 0
fi
NSA=d42idA$$			# sender
NSB=d42idB$$			# capture
VA=d42ia$$
VB=d42ib$$
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if ! ip netns add "$NSA" 2>"$T_TMP/ns.err" || ! ip netns add "$NSB" 2>>"$T_TMP/ns.err"; then
	skip idle "cannot create network namespaces: $(head -c 200 "$T_TMP/ns.err")"
	exit 0
fi
if ! ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" 2>"$T_TMP/ns.err"; then
	skip idle "cannot create a veth pair: $(head -c 200 "$T_TMP/ns.err")"
	exit 0
fi
for ns in "$NSA" "$NSB"; do
	# No IPv6: its router solicitations and MLD reports would be traffic.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
	ip -n "$ns" link set lo up
done
ip netns exec "$NSA" sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=1" >/dev/null 2>&1
ip netns exec "$NSB" sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1" >/dev/null 2>&1
ip -n "$NSA" addr add 10.199.0.1/30 dev "$VA" && ip -n "$NSB" addr add 10.199.0.2/30 dev "$VB" &&
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up ||
	{ fail idle_setup "cannot configure the veth pair"; exit 0; }

# sample PID: "TICKS WAKEUPS" (stat: the fields after "(comm) " start at
# field 3, so utime and stime, fields 14 and 15, are the 12th and 13th)
sample() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	cs=$(awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }' \
		"/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] || return 1
	echo "$st" | awk -v cs="$cs" '{ print $12 + $13, cs }'
}
# hrtimers: HRTIMER softirqs so far, all CPUs
hrtimers() {
	awk '$1 == "HRTIMER:" { for (i = 2; i <= NF; i++) s += $i; print s }' /proc/softirqs 2>/dev/null
}
# measured BEFORE AFTER: sets dt (ticks) and dw (wake-ups) between samples
measured() {
	set -- $1 $2
	b_t=$1; b_w=$2
	set -- $3 $4
	dt=$(($1 - b_t)); dw=$(($2 - b_w))
}
# cpu_ok BEFORE AFTER MAX_TICKS, wakes_ok BEFORE AFTER MAX_WAKES: status 0 if
# within the bound; print what was measured either way
cpu_ok() {
	measured "$1" "$2"
	echo "$dt ticks of CPU in $WIN s (at most $3; $dw wake-ups)"
	[ "$dt" -le "$3" ]
}
wakes_ok() {
	measured "$1" "$2"
	echo "$dw wake-ups in $WIN s (at most $3; $dt ticks of CPU)"
	[ "$dw" -le "$3" ]
}
# both BEFORE AFTER MAX_TICKS MAX_WAKES: both bounds hold
both() {
	cpu_ok "$1" "$2" "$3" >"$T_TMP/why" || { cat "$T_TMP/why"; return 1; }
	wakes_ok "$1" "$2" "$4"
}

# ---- the agent ------------------------------------------------------------
# sniff-timeout is left at its default: what ships is what is measured
cat >"$T_TMP/idle.json" <<JSON
{"common": {"Interval": 60}, "pcap": {"promiscuous-mode": false}}
JSON
ip netns exec "$NSB" "$D42PCAP" -i "$VB" -settings-dir "$T_TMP" -settings-name idle.json \
	>"$T_TMP/out.json" 2>"$T_TMP/err.log" &
pid=$!
if ! wait_for "$T_TMP/err.log" 'capturing on' 150; then
	fail idle_start "agent did not start: $(head -c 400 "$T_TMP/err.log")"
	exit 0
fi
ok idle_start
sleep 0.5			# let start-up (table set-up) finish

# ---- window 1: no traffic; a spinning process alongside proves the check --
python3 -c '
import time
end = time.monotonic() + float(__import__("sys").argv[1])
while time.monotonic() < end:
    pass
' $((WIN + 2)) &
spin=$!
sleep 0.3
h0=$(hrtimers)
a0=$(sample "$pid"); s0=$(sample "$spin")
sleep "$WIN"
a1=$(sample "$pid"); s1=$(sample "$spin")
h1=$(hrtimers)
wait "$spin"
if [ -z "$a0" ] || [ -z "$a1" ]; then
	fail idle_none "agent died: $(head -c 400 "$T_TMP/err.log")"
	exit 0
fi
if [ -z "$s0" ] || [ -z "$s1" ]; then
	fail idle_check_spin "could not sample the spinning process"
elif why=$(cpu_ok "$s0" "$s1" $MAX_TICKS); then
	fail idle_check_spin "the check passed a process spinning in a loop: $why"
else
	ok idle_check_spin
	echo "# spinning process (must fail): $why"
fi
if why=$(both "$a0" "$a1" $MAX_TICKS $MAX_IDLE_WAKES); then
	ok idle_none
	echo "# agent, no traffic: $why"
	# Not the agent's CPU, so not checked (the counter is machine-wide): the
	# kernel's TPACKET_V3 block timer runs every sniff-timeout even when no
	# packet comes, as high-resolution timer interrupts.
	[ -n "$h0" ] && [ -n "$h1" ] &&
		echo "# machine-wide HRTIMER softirqs meanwhile: $(( (h1 - h0) / WIN ))/s"
else
	fail idle_none "$why"
fi

# ---- window 2: a trickle; a 1 ms sleeper alongside proves the check --------
python3 -c '
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    time.sleep(0.001)
' $((WIN + 2)) &
napper=$!
# TRICKLE_PPS datagrams a second for WIN + 1 seconds, nothing listening: each
# is answered by an ICMP port-unreachable
timeout $((WIN + 10)) ip netns exec "$NSA" python3 -c '
import socket, sys, time
pps, secs = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(pps * secs):
    try:
        s.sendto(b"trickle %d" % i, ("10.199.0.2", 9999))
    except OSError:
        pass                      # the previous ICMP error, reported here
    time.sleep(1.0 / pps)
' $TRICKLE_PPS $((WIN + 1)) 2>"$T_TMP/trickle.err" &
trickle=$!
sleep 0.3
a0=$(sample "$pid"); s0=$(sample "$napper")
sleep "$WIN"
a1=$(sample "$pid"); s1=$(sample "$napper")
wait "$napper"
wait "$trickle" || fail idle_trickle_traffic "traffic generator failed: $(head -c 300 "$T_TMP/trickle.err")"
if [ -z "$a0" ] || [ -z "$a1" ]; then
	fail idle_trickle "agent died: $(head -c 400 "$T_TMP/err.log")"
	exit 0
fi
# the same bound as the agent's below, with the most packets it could see
trickle_wakes=$((2 * 2 * TRICKLE_PPS * (WIN + 1) + WIN))
if [ -z "$s0" ] || [ -z "$s1" ]; then
	fail idle_check_napper "could not sample the 1 ms sleeper"
elif why=$(wakes_ok "$s0" "$s1" $trickle_wakes); then
	fail idle_check_napper "the check passed a process waking every millisecond: $why"
else
	ok idle_check_napper
	echo "# process sleeping 1 ms at a time (must fail): $why"
fi

# ---- stop; the packets the agent saw set the trickle's bound ---------------
kill -TERM "$pid"
i=0
while [ $i -lt 200 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
	fail idle_stop "agent still running 20 s after SIGTERM"
	exit 0
fi
wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] || fail idle_stop "exit status $rc: $(head -c 400 "$T_TMP/err.log")"
pkts=$(python3 -c '
import json, sys
print(sum(json.loads(l)["stats"]["packets"] for l in open(sys.argv[1]) if l.strip()))
' "$T_TMP/out.json") || { fail idle_trickle "no readable report"; exit 0; }
# The trickle runs WIN + 1 s and sends two packets a datagram; at least half
# of what it sent in the window must have been captured, or the window did
# not measure what it claims to.
if [ "$pkts" -lt $((TRICKLE_PPS * WIN)) ]; then
	fail idle_trickle "the agent captured only $pkts packets of the trickle"
elif why=$(both "$a0" "$a1" $MAX_TICKS $((2 * pkts + WIN))); then
	ok idle_trickle
	echo "# agent, $TRICKLE_PPS datagrams/s ($pkts packets captured in all): $why"
else
	fail idle_trickle "$why ($pkts packets captured)"
fi
