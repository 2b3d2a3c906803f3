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
# Lookups must find what was stored: on a capture of few 5-tuples (counted
# here by a decoder of the same cases) in a table far larger, no two collide
# (gencap's seed is fixed), so nothing is evicted and there is one entry per
# 5-tuple. A lookup that never matched would evict on every packet; one
# that matched any key would leave fewer entries.
"$B/gencap" -o "$T_TMP/few.pcap" -n 500 -f 10 -p imix -s 5 2>/dev/null
keys=$(python3 - "$T_TMP/few.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, keys = 24, set()
while off + 16 <= len(d):
    cap = struct.unpack_from("<I", d, off + 8)[0]
    f = d[off + 16:off + 16 + cap]
    off += 16 + cap
    t, o = struct.unpack_from(">H", f, 12)[0], 14
    if t == 0x8100:
        t, o = struct.unpack_from(">H", f, 16)[0], 18
    if t == 0x0800 and f[o] == 0x45:
        proto, addrs, l4 = f[o + 9], f[o + 12:o + 20], o + 20
    elif t == 0x86dd:
        proto, addrs, l4 = f[o + 6], f[o + 8:o + 40], o + 40
    else:
        continue
    if proto in (6, 17):
        keys.add((addrs, f[l4:l4 + 4], proto))
print(len(keys))
PY
)
out=$("$B/bound" 16384 "$T_TMP/few.pcap")
if [ -n "$keys" ] && [ "$(field decoded "$out")" = 500 ] && [ "$(field evicted "$out")" = 0 ] &&
   [ "$(field entries "$out")" = "$keys" ]; then
	ok bench_bound_finds
else
	fail bench_bound_finds "got \"$out\", expected 500 decoded, 0 evicted, ${keys:-?} entries"
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

# The documented BENCH_* variables (run.sh's header) reach run.sh through
# make: none may be one of the Makefile's own (BENCH_TOOLS once was, and
# measured its list of helper binaries instead).
vars=$(sed -n 's/^#   \(BENCH_[A-Z_]*\)[ =].*/\1/p' "$TOP/tests/bench/run.sh")
want= set= probe=
for v in $vars; do
	want="$want|x-$v"
	set="$set $v=x-$v"
	probe="$probe|\$\$$v"
done
got=$(env $set make -s -C "$TOP" --no-print-directory \
	--eval "bench-env-probe: ; @echo \"$probe\"" bench-env-probe 2>&1)
[ "$(echo $vars | wc -w)" -ge 10 ] && [ "$got" = "$want" ] && ok bench_variables_reach_run_sh ||
	fail bench_variables_reach_run_sh "variables: $vars; run.sh would see \"$got\""
