#!/bin/sh
# Resident-memory budget (issue 4, docs/MEMORY.md): with the default tables
# (65,536 flows, 16,384 listeners) and a 2 MiB capture buffer, VmRSS and
# VmHWM stay within 12 MiB
#  - live on lo in a network namespace of its own (root): after start-up,
#    after an interval has been reported, and with more flows than the table
#    holds;
#  - reading a capture of 200,000 distinct flows (VmHWM of the whole run);
# and a full table costs no more memory however many flows are refused:
# max-flows 8192 with 10,000 and with 200,000 flows, VmHWM within 1 MiB.
# Measured for $D42PCAP and, when it has been built, the static x86_64
# agent. A dynamically linked agent's shared-library pages are counted by
# the kernel but shared with every other program: they are measured
# (/proc/PID/smaps) and allowed for, and both figures are printed.
. "$(dirname "$0")/lib.sh"

BUDGET_KIB=${D42_MEM_BUDGET_KIB:-12288}
FLAT_KIB=1024			# full table: VmHWM independent of the flow count
RING=2097152			# pcap.buffer-size, the default
MANY=200000			# flows in the big capture (> 65,536)
FEW=10000
SMALL_TABLE=8192		# max-flows for the flat-memory check
NS=d42mem$$
started=
cleanup() {
	for p in $started; do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

if [ ! -x "$D42PCAP" ]; then
	skip memory "no $D42PCAP: run make first"
	exit 0
fi

# kib PID FIELD: a /proc/PID/status field (VmRSS, VmHWM, RssAnon...) in KiB.
kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }
# libs_kib PID: resident KiB of shared-library mappings.
libs_kib() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so(\.|$)/) }
	     lib && /^Rss:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}
# breakdown PID: the largest mappings, for a failure message and the log.
breakdown() {
	echo "pmap -x $1 (largest resident mappings, KiB):"
	pmap -x "$1" 2>/dev/null | awk 'NR > 2 && $1 != "total" && $3 ~ /^[0-9]+$/' | sort -k3 -n -r | head -8
}
# stat_of FILE KEY: stats.KEY of the last report in FILE.
stat_of() {
	python3 -c 'import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(docs[-1]["stats"][sys.argv[2]])' "$1" "$2" 2>/dev/null
}

# Captures: one TCP SYN from each of N distinct clients to 10.0.0.1:80,
# 10 us apart (one interval). Written directly: faster than gen_pcap.py.
mkpcap() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
eth = bytes.fromhex("020000000002" "020000000001" "0800")
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0x4000, 64, 6, 0,
                         (0x0A800001 + i).to_bytes(4, "big"), bytes((10, 0, 0, 1)))
        tcp = struct.pack("!HHIIBBHHH", 40000 + i % 20000, 80, i, 0, 0x50, 0x02, 65535, 0, 0)
        us = 1704067200000000 + i * 10
        f.write(struct.pack("<IIII", us // 1000000, us % 1000000, 54, 54) + eth + ip + tcp)
PY
}
mkpcap $MANY "$T_TMP/many.pcap" && mkpcap $FEW "$T_TMP/few.pcap" ||
	{ fail memory_captures "cannot write the test captures"; exit 0; }
printf '{"common": {"Interval": 60}}\n' >"$T_TMP/default.json"
printf '{"common": {"Interval": 60, "max-flows": %d}}\n' $SMALL_TABLE >"$T_TMP/small.json"

# Peak RSS of a whole offline run: GNU time when there (installed as root),
# else polling /proc (may miss the last few milliseconds).
[ -x /usr/bin/time ] || { is_root && sh "$TOP/tests/deps.sh" time >/dev/null 2>&1; }
# offline BIN SETTINGS PCAP OUT: sets $hwm (KiB) and $rc.
offline() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$T_TMP/time" -f %M timeout 120 "$1" -settings-dir "$T_TMP" \
			-settings-name "$2" -r "$3" >"$4" 2>"$T_TMP/offline.err"
		rc=$?
		hwm=$(tail -n 1 "$T_TMP/time")
	else
		"$1" -settings-dir "$T_TMP" -settings-name "$2" -r "$3" >"$4" 2>"$T_TMP/offline.err" &
		p=$!
		hwm=0 i=0
		while [ $i -lt 1200 ] && kill -0 $p 2>/dev/null; do
			h=$(kib $p VmHWM)
			[ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
			sleep 0.05
			i=$((i + 1))
		done
		kill -KILL $p 2>/dev/null
		wait $p
		rc=$?
	fi
}

# within NAME WHAT KIB LIBS PID: KIB (less LIBS of shared libraries) within
# the budget; PID (if any) gives the breakdown on failure.
within() {
	if [ -z "$3" ]; then
		fail "$1" "$2 not measured"
	elif [ $(($3 - $4)) -le "$BUDGET_KIB" ]; then
		ok "$1"
	else
		[ -n "${5:-}" ] && breakdown "$5"
		fail "$1" "$2 $3 KiB (shared libraries $4 KiB) > budget $BUDGET_KIB KiB; $(cat "$T_TMP/why" 2>/dev/null)"
	fi
	echo "memory: $1: $2 $3 KiB, shared libraries $4 KiB, budget $BUDGET_KIB KiB"
}

# The flow records (104 bytes each) and their index (4 bytes a slot), as
# src/flow.c sizes them (docs/MEMORY.md).
table_kib() {
	want=$(($1 * 2)) n=64
	while [ $n -lt $want ]; do n=$((n * 2)); done
	echo $((($1 * 104 + n * 4) / 1024))
}

measure() {	# LABEL BIN
	L=$1 BIN=$2
	if grep -q -a AddressSanitizer "$BIN" 2>/dev/null; then
		skip "memory_$L" "$BIN is a sanitizer build: its memory use means nothing here"
		return
	fi
	rm -f "$T_TMP/why"
	echo "flow records and index for 65536 flows: $(table_kib 65536) KiB (see docs/MEMORY.md)" >"$T_TMP/why"

	# Shared-library pages: from a run blocked opening a FIFO as its capture.
	mkfifo "$T_TMP/fifo"
	"$BIN" -settings-dir "$T_TMP" -settings-name default.json -r "$T_TMP/fifo" >/dev/null 2>&1 &
	p=$!
	started="$started $p"
	i=0
	while [ $i -lt 200 ] && ! grep -q "$T_TMP/fifo" "/proc/$p/cmdline" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	sleep 0.3
	libs=$(libs_kib $p)
	kill -KILL $p 2>/dev/null
	wait $p 2>/dev/null
	rm -f "$T_TMP/fifo"
	echo "memory: $L: $BIN: shared libraries $libs KiB"

	# ---- offline
	offline "$BIN" default.json "$T_TMP/many.pcap" "$T_TMP/many.out"
	if [ "$rc" -eq 0 ] && [ "$(stat_of "$T_TMP/many.out" flows)" = 65536 ] &&
		[ "$(stat_of "$T_TMP/many.out" flow_drops)" = $((MANY - 65536)) ]; then
		ok "memory_${L}_offline_table_full"
	else
		fail "memory_${L}_offline_table_full" "status $rc, flows $(stat_of "$T_TMP/many.out" flows), flow_drops $(stat_of "$T_TMP/many.out" flow_drops): $(tail -c 300 "$T_TMP/offline.err")"
	fi
	within "memory_${L}_offline_many_flows" "VmHWM reading $MANY flows" "$hwm" "$libs"

	offline "$BIN" small.json "$T_TMP/few.pcap" "$T_TMP/few.out"
	h_few=$hwm
	d_few=$(stat_of "$T_TMP/few.out" flow_drops)
	offline "$BIN" small.json "$T_TMP/many.pcap" "$T_TMP/many.out"
	h_many=$hwm
	d_many=$(stat_of "$T_TMP/many.out" flow_drops)
	if [ "$d_few" = $((FEW - SMALL_TABLE)) ] && [ "$d_many" = $((MANY - SMALL_TABLE)) ]; then
		ok "memory_${L}_drops_counted"
	else
		fail "memory_${L}_drops_counted" "flow_drops $d_few and $d_many, want $((FEW - SMALL_TABLE)) and $((MANY - SMALL_TABLE))"
	fi
	diff=$((h_many - h_few))
	[ $diff -lt 0 ] && diff=$((-diff))
	if [ -n "$h_few" ] && [ -n "$h_many" ] && [ $diff -lt $FLAT_KIB ]; then
		ok "memory_${L}_full_table_flat"
	else
		fail "memory_${L}_full_table_flat" "max-flows $SMALL_TABLE: VmHWM $h_few KiB with $FEW flows, $h_many KiB with $MANY"
	fi
	echo "memory: $L: max-flows $SMALL_TABLE: VmHWM $h_few KiB ($FEW flows), $h_many KiB ($MANY flows)"

	# ---- live
	if ! is_root || ! command -v ip >/dev/null 2>&1; then
		skip "memory_${L}_live" "needs root and iproute2 (ip netns)"
		return
	fi
	ip netns del "$NS" 2>/dev/null
	ip netns add "$NS" || { fail "memory_${L}_live" "cannot create network namespace"; return; }
	ip -n "$NS" link set lo up
	# Interval 3600: no report (and no table reset) before the end.
	printf '{"common": {"Interval": %d},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms", "buffer-size": %d}}\n' \
		3600 $RING >"$T_TMP/live.json"
	# emptied first: the child's redirection may come after wait_for's
	# first look, and the run before (measure native, when the static
	# agent is measured too) wrote "capturing on" here
	: >"$T_TMP/live.err"
	ip netns exec "$NS" "$BIN" -settings-dir "$T_TMP" -settings-name live.json \
		>"$T_TMP/live.out" 2>"$T_TMP/live.err" &
	p=$!
	started="$started $p"
	# wait_for, not a bare grep: the file may not exist yet (grep's status
	# 2 ended the old loop at once), the child opens it after the fork
	if ! wait_for "$T_TMP/live.err" 'capturing on' 300; then
		fail "memory_${L}_live" "agent did not start: $(head -c 300 "$T_TMP/live.err")"
		kill -KILL $p 2>/dev/null
		return
	fi
	sleep 1
	# The capture ring is mapped (and resident) once the capture is open.
	ring=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { s = ($2 ~ /s$/) } s && /^Rss:/ { r += $2 } END { print r + 0 }' "/proc/$p/smaps")
	echo "memory: $L: shared mappings (the capture ring) $ring KiB"
	within "memory_${L}_live_startup_rss" "VmRSS after start-up" "$(kib $p VmRSS)" "$libs"
	within "memory_${L}_live_startup_hwm" "VmHWM after start-up" "$(kib $p VmHWM)" "$libs"

	# More distinct flows than the table holds: UDP from one socket to
	# 4 x 32767 (address, port) pairs on lo.
	timeout 60 ip netns exec "$NS" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for a in range(1, 5):
    for port in range(1, 32768):
        s.sendto(b"x", ("127.0.0.%d" % a, port))
'
	sleep 1
	within "memory_${L}_live_many_flows_rss" "VmRSS after >65536 flows" "$(kib $p VmRSS)" "$libs" $p
	within "memory_${L}_live_many_flows_hwm" "VmHWM after >65536 flows" "$(kib $p VmHWM)" "$libs"
	kill -TERM $p
	i=0
	while [ $i -lt 100 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -KILL $p 2>/dev/null
	wait $p
	f=$(stat_of "$T_TMP/live.out" flows)
	d=$(stat_of "$T_TMP/live.out" flow_drops)
	if [ "$f" = 65536 ] && [ -n "$d" ] && [ "$d" -gt 0 ]; then
		ok "memory_${L}_live_table_full"
	else
		fail "memory_${L}_live_table_full" "flows $f, flow_drops $d (kernel drops $(stat_of "$T_TMP/live.out" kernel_drops))"
	fi

	# Steady state: an idle agent after its first reports (each one
	# starts a new interval with an emptied table).
	sed 's/"Interval": 3600/"Interval": 1/' "$T_TMP/live.json" >"$T_TMP/idle.json"
	: >"$T_TMP/idle.out"	# not the reports of the run before (as live.err)
	ip netns exec "$NS" "$BIN" -settings-dir "$T_TMP" -settings-name idle.json \
		>"$T_TMP/idle.out" 2>"$T_TMP/idle.err" &
	p=$!
	started="$started $p"
	i=0
	while [ $i -lt 300 ] && [ "$(grep -c . "$T_TMP/idle.out" 2>/dev/null)" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
	if [ "$(grep -c . "$T_TMP/idle.out")" -ge 2 ]; then
		within "memory_${L}_live_after_interval" "VmRSS of an idle agent after 2 reports" "$(kib $p VmRSS)" "$libs" $p
	else
		fail "memory_${L}_live_after_interval" "no reports: $(head -c 300 "$T_TMP/idle.err")"
	fi
	kill -TERM $p
	i=0
	while [ $i -lt 100 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -KILL $p 2>/dev/null
	wait $p
	ip netns del "$NS"
}

measure native "$D42PCAP"
# The embedded build (make static TARGET=x86_64), when there.
S=$TOP/build/x86_64/d42pcap
if [ -x "$S" ] && "$S" -version >/dev/null 2>&1; then
	measure static "$S"
else
	skip memory_static "no static build: make static TARGET=x86_64"
fi
