#!/bin/sh
# The bench's yardsticks (tests/bench/, docs/PERFORMANCE.md) must measure
# what they claim, or every ratio in the tables is wrong: floor counts every
# packet of a file; bound decodes exactly its common case and counts every
# packet it decoded in its table, evictions included. Checked on a gencap
# capture (all of it the common case), with a table far too small (evicting
# all the time), and on the demo capture, which holds frames bound does not
# decode (ARP, ICMP and the like).
. "$(dirname "$0")/lib.sh"

B=$TOP/build/bench
PK=20000
for x in gencap floor bound; do
	if [ ! -x "$B/$x" ]; then
		skip bench_tools "no $B/$x (make check builds it)"
		exit 0
	fi
done
"$B/gencap" -o "$T_TMP/g.pcap" -n $PK -f 500 -p imix -s 3 2>"$T_TMP/g.info" ||
	{ fail bench_tools "gencap: $(cat "$T_TMP/g.info")"; exit 0; }
bytes=$(tr ' ' '\n' <"$T_TMP/g.info" | sed -n 's/^bytes=//p')

out=$("$B/floor" "$T_TMP/g.pcap")
[ "$out" = "packets=$PK bytes=$bytes" ] && ok bench_floor_counts ||
	fail bench_floor_counts "got \"$out\", gencap wrote $PK packets, $bytes bytes"

# field NAME LINE
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
out=$("$B/bound" 500 "$T_TMP/g.pcap")
if [ "$(field packets "$out")" = $PK ] && [ "$(field bytes "$out")" = "$bytes" ] &&
   [ "$(field decoded "$out")" = $PK ] && [ "$(field counted "$out")" = $PK ]; then
	ok bench_bound_counts
else
	fail bench_bound_counts "got \"$out\", expected all $PK packets decoded and counted"
fi
# One flow's table (4 entries) for 500 flows: nearly every packet evicts
# one, and none may be lost.
out=$("$B/bound" 1 "$T_TMP/g.pcap")
ev=$(field evicted "$out")
if [ "$(field counted "$out")" = $PK ] && [ "${ev:-0}" -gt $((PK / 2)) ] &&
   [ "$(field entries "$out")" = 4 ]; then
	ok bench_bound_evicts
else
	fail bench_bound_evicts "got \"$out\", expected $PK counted, most evicted, 4 entries"
fi

# The demo capture: what bound does not decode is left out, the rest counted.
dp=$("$B/floor" "$TOP/tests/data/demo.pcapng" | sed -n 's/^packets=\([0-9]*\) .*/\1/p')
out=$("$B/bound" 16 "$TOP/tests/data/demo.pcapng")
dec=$(field decoded "$out")
if [ "$(field packets "$out")" = "${dp:-x}" ] && [ "${dec:-0}" -gt 0 ] &&
   [ "$dec" -lt "$dp" ] && [ "$(field counted "$out")" = "$dec" ]; then
	ok bench_bound_undecoded
else
	fail bench_bound_undecoded "got \"$out\", floor read ${dp:-?} packets"
fi

"$B/bound" 0 "$T_TMP/g.pcap" >/dev/null 2>&1
r0=$?
"$B/bound" 12x "$T_TMP/g.pcap" >/dev/null 2>&1
r1=$?
"$B/bound" 10 "$T_TMP/missing.pcap" >/dev/null 2>&1
r2=$?
[ $r0 = 2 ] && [ $r1 = 2 ] && [ $r2 = 1 ] && ok bench_bound_usage ||
	fail bench_bound_usage "exit $r0, $r1 for bad FLOWS (want 2), $r2 for a missing file (want 1)"
