#!/bin/sh
# make bench-live: kernel drops of a live d42pcap against `tcpdump -w
# /dev/null` (issue 6). A generated capture is replayed with `tcpreplay
# --topspeed` from one end of a veth pair (network namespace A) to the other
# (namespace B), where one capturing tool at a time listens; tools alternate,
# LIVE_RUNS replays each. For every replay: packets sent (tcpreplay's own
# count), packets that reached the receiving interface (its rx_packets),
# packets the tool received and its kernel drops (pcap_stats(): d42pcap's
# stats.kernel_drops summed over its reports, tcpdump's "dropped by kernel"
# line). A replay whose received + dropped differs from what reached the
# interface is an error: the numbers would not mean what they claim.
# See docs/PERFORMANCE.md.
#
# Environment (all optional):
#   LIVE_PACKETS   packets per capture (default 1000000)
#   LIVE_FLOWS     concurrent flows in the capture (default 10000)
#   LIVE_PROFILES  frame-size profiles (default "imix small")
#   LIVE_RUNS      replays per tool and capture (default 3, at least 3)
#   LIVE_TOOLS     default "d42pcap tcpdump tcpdump-s1600 d42pcap-1000ms":
#                  tcpdump-s1600 is tcpdump with d42pcap's snap length;
#                  d42pcap-1000ms is d42pcap with tcpdump's 1000 ms
#                  buffering timeout instead of its default (a
#                  diagnostic: the verdict compares d42pcap as configured)
#   LIVE_BUFFER    kernel capture buffer in bytes, for every tool (default
#                  2097152: both d42pcap's and libpcap's default)
#   LIVE_PIN       1 (default): tcpreplay on CPU 0, the capturing tool on
#                  CPU 1 (when there are two CPUs or more); 0: no pinning
#   LIVE_CONTEND=1 during each replay, a busy loop competes for the capturing
#                  tool's CPU (same for every tool): how much scheduling
#                  delay each tool's ring absorbs
#   LIVE_TIMEOUT   seconds allowed to one replay (default 300)
#   LIVE_NO_DEPS=1 do not try to install tcpreplay/tcpdump
# Captures are shared with `make bench` (build/bench/cap-*.pcap); results go
# to the terminal and build/bench/live.md, raw lines to build/bench/live.tsv.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$TOP/build/bench
D42PCAP=${D42PCAP:-$TOP/d42pcap}
PACKETS=${LIVE_PACKETS:-1000000}
FLOWS=${LIVE_FLOWS:-10000}
PROFILES=${LIVE_PROFILES:-"imix small"}
RUNS=${LIVE_RUNS:-3}
TOOLS=${LIVE_TOOLS:-"d42pcap tcpdump tcpdump-s1600 d42pcap-1000ms"}
BUFFER=${LIVE_BUFFER:-2097152}
PIN=${LIVE_PIN:-1}
CONTEND=${LIVE_CONTEND:-0}
TIMEOUT=${LIVE_TIMEOUT:-300}
SNAP_D42=1600			# d42pcap's default pcap.snap-length
SNAP_TCPDUMP=262144		# tcpdump's default snapshot length
GENCAP=$B/gencap
RAW=$B/live.tsv
RESULTS=$B/live.md
RINGS=$B/live-rings.tsv

die() { echo "bench-live: $*" >&2; exit 1; }
note() { echo "bench-live: $*" >&2; }
skip() { echo "bench-live: SKIP: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, packet capture)"
command -v ip >/dev/null 2>&1 || skip "needs iproute2 (ip netns)"
for x in "$GENCAP" "$D42PCAP"; do
	[ -x "$x" ] || die "$x missing: run 'make bench-live'"
done
[ "$RUNS" -ge 3 ] 2>/dev/null || die "LIVE_RUNS must be >= 3"
[ "$BUFFER" -ge 65536 ] 2>/dev/null && [ "$BUFFER" -le 1073741824 ] ||
	die "LIVE_BUFFER must be 65536-1073741824 (d42pcap's pcap.buffer-size range)"
[ $((BUFFER % 1024)) -eq 0 ] || die "LIVE_BUFFER must be a multiple of 1024 (tcpdump -B is in KiB)"
for t in $TOOLS; do
	case $t in d42pcap|d42pcap-1000ms|tcpdump|tcpdump-s1600) ;; *) die "unknown tool $t" ;; esac
done
if [ "${LIVE_NO_DEPS:-0}" != 1 ]; then
	timeout 600 sh "$TOP/tests/deps.sh" tcpreplay tcpdump ||
		note "could not install tcpreplay/tcpdump"
fi
command -v tcpreplay >/dev/null 2>&1 || skip "tcpreplay is not installed (apt-get install tcpreplay)"
case " $TOOLS " in *" tcpdump"*)
	command -v tcpdump >/dev/null 2>&1 || skip "tcpdump is not installed (apt-get install tcpdump)" ;;
esac
command -v python3 >/dev/null 2>&1 || skip "needs python3 (to read the reports)"

mkdir -p "$B/tmp" || exit 1
# Measure a private copy: a rebuild during the bench must not change it.
cp "$D42PCAP" "$B/d42pcap.live" || exit 1
D42_SUM=$(cksum <"$D42PCAP" | cut -d' ' -f1)
D42PCAP=$B/d42pcap.live
W=$(mktemp -d "$B/tmp/live.XXXXXX") || exit 1

# ---- namespaces --------------------------------------------------------------
NSA=d42lvA$$			# sender
NSB=d42lvB$$			# capture
VA=d42la$$
VB=d42lb$$
cpid= hog=
cleanup() {
	[ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null
	[ -n "$hog" ] && kill -KILL "$hog" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
ip netns add "$NSA" 2>"$W/ns.err" && ip netns add "$NSB" 2>>"$W/ns.err" ||
	skip "cannot create network namespaces: $(head -c 200 "$W/ns.err")"
ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" 2>"$W/ns.err" ||
	skip "cannot create a veth pair: $(head -c 200 "$W/ns.err")"
for ns in "$NSA" "$NSB"; do
	# No IPv6 (router solicitations, MLD): only the replay crosses the veth.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
done
ip netns exec "$NSA" sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=1" >/dev/null 2>&1
ip netns exec "$NSB" sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1" >/dev/null 2>&1
ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up ||
	die "cannot bring the veth pair up"

PIN_A= PIN_B= PIN_NOTE="not pinned"
CONTEND_NOTE=
[ "$CONTEND" = 1 ] && CONTEND_NOTE=" During each replay a busy loop competes for the capturing tool's CPU (LIVE_CONTEND=1)."
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	PIN_A="taskset -c 0" PIN_B="taskset -c 1"
	PIN_NOTE="tcpreplay pinned to CPU 0, the capturing tool to CPU 1"
fi

# ---- captures (as tests/bench/run.sh makes them) -----------------------------
fname() { echo "$B/cap-$1-$2-$3.pcap"; }	# flows profile packets
cached() { [ -s "$1" ] && [ -s "$1.info" ] && [ "$1" -nt "$GENCAP" ]; }
gen() {	# flows profile packets -> prints the file name
	out=$(fname "$1" "$2" "$3")
	if ! cached "$out"; then
		note "generating $out"
		timeout 600 "$GENCAP" -o "$out.tmp" -n "$3" -f "$1" -p "$2" \
			2>"$out.info.tmp" || die "gencap failed: $(cat "$out.info.tmp")"
		sed 's/\.pcap\.tmp /.pcap /' "$out.info.tmp" >"$out.info" &&
			rm -f "$out.info.tmp" && mv "$out.tmp" "$out" || exit 1
	fi
	echo "$out"
}

# ---- one replay --------------------------------------------------------------
mf=$((FLOWS * 2)); ml=$((FLOWS / 4)); [ $ml -ge 16384 ] || ml=16384
# d42pcap as shipped (its default sniff-timeout); d42pcap-1000ms the same with
# tcpdump's fixed 1000 ms buffering timeout (a diagnostic)
cat >"$W/live.json" <<JSON
{"common": {"Interval": 60, "max-flows": $mf, "max-listeners": $ml},
 "pcap": {"snap-length": $SNAP_D42, "buffer-size": $BUFFER}}
JSON
sed 's/"buffer-size": \([0-9]*\)}/"buffer-size": \1, "sniff-timeout": "1000ms"}/' \
	"$W/live.json" >"$W/live-1000ms.json"
for f in live.json live-1000ms.json; do
	"$D42PCAP" -check-config -settings-dir "$W" -settings-name $f >"$W/$f.eff" ||
		die "d42pcap rejects the settings: $(cat "$W/$f")"
done
grep -q '"sniff-timeout": *"1s"' "$W/live-1000ms.json.eff" ||
	die "cannot set sniff-timeout: $(cat "$W/live-1000ms.json")"
D42_TMO=$(sed -n 's/.*"sniff-timeout": *"\([^"]*\)".*/\1/p' "$W/live.json.eff" | head -1)
[ -n "$D42_TMO" ] || die "cannot read d42pcap's effective sniff-timeout"

nsstat() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
field() { sed -n "s/^[[:space:]]*$1[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$2" | head -1; }
# wait_for FILE REGEX TENTHS
wait_for() {
	w=0
	while [ $w -lt "$3" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		w=$((w + 1))
	done
	return 1
}

# replay PROFILE TOOL RUN FILE: appends one line to $RAW
replay() {
	prof=$1 tool=$2 run=$3 cap=$4
	rm -f "$W/out" "$W/err" "$W/replay"
	case $tool in
	d42pcap|d42pcap-1000ms)
		ready='capturing on'
		conf=live.json; [ "$tool" = d42pcap ] || conf=live-1000ms.json
		ip netns exec "$NSB" $PIN_B "$D42PCAP" -i "$VB" -settings-dir "$W" \
			-settings-name $conf >"$W/out" 2>"$W/err" & ;;
	tcpdump)
		ready='listening on'
		ip netns exec "$NSB" $PIN_B tcpdump -n -i "$VB" -B $((BUFFER / 1024)) \
			-w /dev/null >"$W/out" 2>"$W/err" & ;;
	tcpdump-s1600)
		ready='listening on'
		ip netns exec "$NSB" $PIN_B tcpdump -n -i "$VB" -B $((BUFFER / 1024)) \
			-s $SNAP_D42 -w /dev/null >"$W/out" 2>"$W/err" & ;;
	esac
	cpid=$!			# ip netns exec and taskset exec the tool: its PID
	wait_for "$W/err" "$ready" 150 || die "$tool did not start: $(head -c 400 "$W/err")"
	sleep 0.3
	# the ring libpcap asked for (packet_diag): block size and count, timeout
	ip netns exec "$NSB" ss -0 -e -n 2>/dev/null | grep -o 'ring_rx([^)]*)' | head -1 |
		sed "s/^/$tool\t/" >>"$RINGS"
	rx0=$(nsstat "$NSB" "$VB" rx_packets); rd0=$(nsstat "$NSB" "$VB" rx_dropped)
	td0=$(nsstat "$NSA" "$VA" tx_dropped)
	if [ "$CONTEND" = 1 ]; then
		timeout "$TIMEOUT" $PIN_B python3 -c 'while True: pass' &
		hog=$!
	fi
	timeout "$TIMEOUT" ip netns exec "$NSA" $PIN_A tcpreplay -i "$VA" --topspeed -K "$cap" \
		>"$W/replay" 2>&1 || die "tcpreplay failed: $(tail -5 "$W/replay")"
	if [ -n "$hog" ]; then
		kill "$hog"; wait "$hog" 2>/dev/null; hog=
	fi
	# let the tool drain its ring before stopping it
	sleep 1
	rx1=$(nsstat "$NSB" "$VB" rx_packets); rd1=$(nsstat "$NSB" "$VB" rx_dropped)
	td1=$(nsstat "$NSA" "$VA" tx_dropped)
	cpu=$(ticks "$cpid")
	kill -TERM "$cpid"
	i=0
	while [ $i -lt 200 ] && kill -0 "$cpid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$cpid" 2>/dev/null && die "$tool still running 20 s after SIGTERM"
	wait "$cpid"; rc=$?; cpid=
	[ $rc -eq 0 ] || die "$tool exited with status $rc: $(tail -c 400 "$W/err")"

	sent=$(field 'Successful packets:' "$W/replay")
	failed=$(field 'Failed packets:' "$W/replay")
	pps=$(sed -n 's/^Rated:.* \([0-9.]*\) pps.*/\1/p' "$W/replay" | head -1)
	[ -n "$sent" ] && [ -n "$failed" ] && [ -n "$pps" ] ||
		die "cannot read tcpreplay's counts: $(head -c 600 "$W/replay")"
	case $tool in
	d42pcap*)
		vals=$(python3 -c '
import json, sys
p = k = i = 0
for line in open(sys.argv[1]):
    if line.strip():
        s = json.loads(line)["stats"]
        p += s["packets"]; k += s["kernel_drops"]; i += s["interface_drops"]
print(p, k, i)
' "$W/out") || die "cannot read d42pcap's reports"
		set -- $vals
		got=$1 kd=$2 ifd=$3 ;;
	*)
		got=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$W/err")
		kd=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$W/err")
		ifd=$(sed -n 's/^\([0-9]*\) packets dropped by interface$/\1/p' "$W/err")
		[ -n "$got" ] && [ -n "$kd" ] || die "cannot read tcpdump's counts: $(tail -c 400 "$W/err")"
		: "${ifd:=0}" ;;
	esac
	at=$((rx1 - rx0))
	# Every packet that reached the interface was either handed to the
	# tool or dropped by the kernel for want of ring space.
	[ $((got + kd)) -eq "$at" ] ||
		die "$tool, $prof run $run: received $got + kernel drops $kd != $at packets at $VB"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$prof" "$tool" "$run" \
		"$sent" "$failed" "$pps" "$at" $((rd1 - rd0 + td1 - td0)) "$got" "$kd" "$ifd" \
		"$cpu" "$(getconf CLK_TCK)" >>"$RAW"
	note "$prof $tool run $run: sent $sent at $(printf '%.0f' "$pps") pps, received $got, kernel drops $kd"
}

# ---- run ---------------------------------------------------------------------
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$RINGS"
printf 'profile\ttool\trun\tsent\tfailed\tpps\tat_iface\tveth_drops\treceived\tkernel_drops\tif_drops\tcpu_ticks\tclk_tck\n' >"$RAW"
for prof in $PROFILES; do
	cap=$(gen "$FLOWS" "$prof" "$PACKETS") || exit 1
	r=1
	while [ $r -le "$RUNS" ]; do
		for tool in $TOOLS; do
			replay "$prof" "$tool" "$r" "$cap"
		done
		r=$((r + 1))
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
SECS=$(($(date +%s) - T0))

# ---- report ------------------------------------------------------------------
maxframe=$(for prof in $PROFILES; do cat "$(fname "$FLOWS" "$prof" "$PACKETS").info"; done |
	tr ' ' '\n' | sed -n 's/^frames_\([0-9]*\)=[1-9].*/\1/p' | sort -n | tail -1)
python3 - "$RAW" "$RINGS" >"$RESULTS" <<PY || die "cannot write $RESULTS"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for r in rows:
    for k in r:
        if k not in ("profile", "tool"):
            r[k] = float(r[k])
med = lambda xs: statistics.median(xs)
def n(x):
    return "%d" % round(x)
snap = {"d42pcap": $SNAP_D42, "d42pcap-1000ms": $SNAP_D42, "tcpdump": $SNAP_TCPDUMP,
        "tcpdump-s1600": $SNAP_D42}
cmd = {"d42pcap": "\`d42pcap -i VETH\` (\`sniff-timeout\` $D42_TMO, its default; reports to a file)",
       "d42pcap-1000ms": "the same with \`sniff-timeout\` 1000 ms, tcpdump's timeout (a diagnostic, not in the verdict)",
       "tcpdump": "\`tcpdump -n -i VETH -B $((BUFFER / 1024)) -w /dev/null\`",
       "tcpdump-s1600": "\`tcpdump -n -i VETH -B $((BUFFER / 1024)) -s $SNAP_D42 -w /dev/null\`"}
rings = {}
for line in open(sys.argv[2]):
    t, ring = line.rstrip("\n").split("\t", 1)
    rings.setdefault(t, set()).add(ring)
print("## Live capture: kernel drops against tcpdump (make bench-live)")
print()
print("$(date -u '+%Y-%m-%d %H:%M UTC'), $SECS s; $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), "
      "kernel $(uname -r), $(tcpreplay -V 2>&1 | sed -n 's/^tcpreplay version: \([^ ]*\).*/tcpreplay \1/p' | head -1), "
      "$(tcpdump --version 2>&1 | head -2 | tr '\n' ' ' | sed 's/ *$//'); d42pcap cksum $D42_SUM; "
      "load average $LOAD0 before, $LOAD1 after.")
print()
print("Each replay: \`tcpreplay -i VETH --topspeed -K\` (as fast as it can send, "
      "the file preloaded into memory) of a $PACKETS-packet, $FLOWS-flow gencap capture, "
      "from namespace A to a veth peer in namespace B where one tool captures; "
      "tools alternate, $RUNS replays each; $PIN_NOTE. "
      "Kernel capture buffer $BUFFER bytes for every tool "
      "(d42pcap \`pcap.buffer-size\`, tcpdump \`-B $((BUFFER / 1024))\`).$CONTEND_NOTE")
print()
tools = []
for r in rows:
    if r["tool"] not in tools:
        tools.append(r["tool"])
for t in tools:
    print("- %s: %s; ring %s" % (t, cmd[t], " / ".join(sorted(rings.get(t, ["unknown"])))))
print()
print("Snap length: d42pcap keeps $SNAP_D42 bytes (\`pcap.snap-length\`, its default), "
      "tcpdump $SNAP_TCPDUMP (its default) or $SNAP_D42 with \`-s $SNAP_D42\` (tcpdump-s1600). "
      "The largest frame in these captures is $maxframe bytes, so every tool copies whole "
      "frames: the same bytes per packet. Nor does the snap length change the ring: "
      "libpcap's TPACKET_V3 ring has blocks of 256 KiB whatever the snap length "
      "(pcap-linux.c, create_ring()), as the ring lines above (from \`ss -0 -e\`) show. "
      "The rings differ only in their timeout (tmo, ms): how long the kernel may "
      "keep a block that is not full before handing it over.")
print()
print("| capture | tool | snaplen | sent (tcpreplay) | replay Mpkt/s | at interface | received | kernel drops (median) | min-max | replays with drops | drop % | CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
profs = []
for r in rows:
    if r["profile"] not in profs:
        profs.append(r["profile"])
meds = {}
for p in profs:
    for t in tools:
        rs = [r for r in rows if r["profile"] == p and r["tool"] == t]
        if not rs:
            continue
        kd = [r["kernel_drops"] for r in rs]
        m = dict(sent=med([r["sent"] for r in rs]), pps=med([r["pps"] for r in rs]),
                 at=med([r["at_iface"] for r in rs]), got=med([r["received"] for r in rs]),
                 kd=med(kd), pct=med([100.0 * r["kernel_drops"] / r["at_iface"] for r in rs]),
                 cpu=med([r["cpu_ticks"] / r["clk_tck"] for r in rs]),
                 hit="%d of %d" % (len([x for x in kd if x > 0]), len(kd)))
        meds[p, t] = m
        name = "**%s**" % t if t == "d42pcap" else t
        print("| $FLOWS flows, %s | %s | %d | %s | %.2f | %s | %s | %s | %s-%s | %s | %.3f | %.2f |" % (
            p, name, snap[t], n(m["sent"]), m["pps"] / 1e6, n(m["at"]), n(m["got"]),
            n(m["kd"]), n(min(kd)), n(max(kd)), m["hit"], m["pct"], m["cpu"]))
print()
print("Every replay is checked: received + kernel drops = packets at the receiving veth. "
      "Medians over the replays; CPU s is the capturing tool's user + system time for the whole replay.")
print()
for p in profs:
    if (p, "d42pcap") not in meds:
        continue
    d = meds[p, "d42pcap"]["kd"]
    for t in tools:
        if t.startswith("d42pcap") or (p, t) not in meds:
            continue
        o = meds[p, t]["kd"]
        print("- %s: d42pcap %s kernel drops (median; drops in %s replays) against %s %s "
              "(drops in %s): %s" % (
            p, n(d), meds[p, "d42pcap"]["hit"], t, n(o), meds[p, t]["hit"],
            "no higher: **met**" if d <= o else "higher: **missed**"))
print()
print("Per replay:")
print()
print("| capture | tool | run | sent | failed | Mpkt/s | at interface | veth drops | received | kernel drops | interface drops | CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %s | %d | %s | %s | %.3f | %s | %s | %s | %s | %s | %.2f |" % (
        r["profile"], r["tool"], r["run"], n(r["sent"]), n(r["failed"]), r["pps"] / 1e6,
        n(r["at_iface"]), n(r["veth_drops"]), n(r["received"]), n(r["kernel_drops"]),
        n(r["if_drops"]), r["cpu_ticks"] / r["clk_tck"]))
PY
echo
cat "$RESULTS"
