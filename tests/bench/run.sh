#!/bin/sh
# make bench: side-by-side offline throughput of d42pcap, a bare libpcap
# read loop (the floor), softflowd and pmacctd on generated captures, plus
# instructions per packet from callgrind. See docs/PERFORMANCE.md.
#
# Environment (all optional):
#   BENCH_PACKETS     packets per capture (default 10000000, lowered to fit
#                     the free space of the build directory's file system)
#   BENCH_FLOWS       concurrent-flow counts (default "10000 1000000")
#   BENCH_PROFILES    size profiles (default "imix small")
#   BENCH_RUNS        measured runs per tool and capture (default 3, min 3)
#   BENCH_TOOLS       default "floor floor-plain bound d42pcap softflowd pmacctd"
#                     (floor: read with d42pcap's stdio buffer, the yardstick;
#                     floor-plain: pcap_open_offline, as tcpdump reads;
#                     bound: the floor plus about the least a flow tool can
#                     do per packet, tests/bench/bound.c)
#   BENCH_CG_PACKETS  packets of the callgrind captures (default 1000000;
#                     0 skips callgrind)
#   BENCH_CG_PROFILES size profiles run under callgrind (default "imix")
#   BENCH_TIMEOUT     seconds allowed per run (default 900)
#   BENCH_NO_DEPS=1   do not try to install softflowd/pmacct/valgrind
#   BENCH_CANDIDATE   another d42pcap binary (say, with a proposed change),
#                     measured side by side as the tool "candidate"
# Captures are cached in build/bench/ and rebuilt only when gencap changes;
# `sh tests/bench/run.sh gen` only makes them; `sh tests/bench/run.sh report`
# only rewrites the tables from the last run's raw data.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$TOP/build/bench
D42PCAP=${D42PCAP:-$TOP/d42pcap}
PACKETS=${BENCH_PACKETS:-10000000}
FLOWS=${BENCH_FLOWS:-"10000 1000000"}
PROFILES=${BENCH_PROFILES:-"imix small"}
RUNS=${BENCH_RUNS:-3}
CANDIDATE=${BENCH_CANDIDATE:-}
TOOLS=${BENCH_TOOLS:-"floor floor-plain bound d42pcap${CANDIDATE:+ candidate} softflowd pmacctd"}
CG_PACKETS=${BENCH_CG_PACKETS:-1000000}
CG_PROFILES=${BENCH_CG_PROFILES:-imix}
CG_TINY=1000			# callgrind baseline capture: start-up cost only
TIMEOUT=${BENCH_TIMEOUT:-900}
SPACE_MARGIN_KB=2097152		# keep 2 GiB free
# Bytes per packet on disk (16-byte record header + average frame); a bit
# above what gencap reports, so the estimate errs on the safe side.
BPP_SMALL=84
BPP_IMIX=360
PMACCTD_SLEEPS=4		# pmacctd sleeps 2 s before and 2 s after a file
SF_PORT=39995			# softflowd exports to 127.0.0.1 only

GENCAP=$B/gencap
FLOOR=$B/floor
BOUND=$B/bound
RUNSTAT=$B/runstat
RAW=$B/raw.tsv
RESULTS=$B/results.md
T0=$(date +%s)

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

in_tools() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
USE_BOUND=
in_tools bound && USE_BOUND=$BOUND
for x in "$GENCAP" "$FLOOR" $USE_BOUND "$RUNSTAT" "$D42PCAP"; do
	[ -x "$x" ] || die "$x missing: run 'make bench'"
done
[ "$RUNS" -ge 3 ] 2>/dev/null || die "BENCH_RUNS must be >= 3"
mkdir -p "$B/tmp" "$B/conf" "$B/cg" || exit 1
# Measure a private copy: a rebuild during the bench must not change it.
cp "$D42PCAP" "$B/d42pcap.bench" || exit 1
D42_SUM=$(cksum <"$D42PCAP" | cut -d' ' -f1)
D42PCAP=$B/d42pcap.bench
if [ -n "$CANDIDATE" ]; then
	cp "$CANDIDATE" "$B/candidate.bench" || exit 1
	CAND_SUM=$(cksum <"$CANDIDATE" | cut -d' ' -f1)
	CANDIDATE=$B/candidate.bench
fi

if [ "${BENCH_NO_DEPS:-0}" != 1 ]; then
	timeout 600 sh "$TOP/tests/deps.sh" softflowd pmacct valgrind ||
		note "could not install softflowd/pmacct/valgrind: those columns are skipped"
fi
have() { command -v "$1" >/dev/null 2>&1; }

# ---- captures --------------------------------------------------------------

bpp() { [ "$1" = small ] && echo $BPP_SMALL || echo $BPP_IMIX; }
fname() { echo "$B/cap-$1-$2-$3.pcap"; }	# flows profile packets
cached() { [ -s "$1" ] && [ -s "$1.info" ] && [ "$1" -nt "$GENCAP" ]; }

# kB still needed for the captures not cached yet, at $1 packets each
need_kb() {
	kb=0
	for f in $FLOWS; do
		for p in $PROFILES; do
			cached "$(fname "$f" "$p" "$1")" ||
				kb=$((kb + $1 * $(bpp "$p") / 1024))
		done
	done
	echo $kb
}
avail_kb=$(df -Pk "$B" | awk 'NR == 2 { print $4 }')
want=$(need_kb "$PACKETS")
if [ $((want + SPACE_MARGIN_KB)) -gt "$avail_kb" ]; then
	per=0
	for p in $PROFILES; do per=$((per + $(bpp "$p"))); done
	n=0
	for f in $FLOWS; do n=$((n + 1)); done
	fit=$(( (avail_kb - SPACE_MARGIN_KB) * 1024 / (per * n) / 100000 * 100000 ))
	[ "$fit" -ge 1000000 ] || die "not enough space in $B (${avail_kb} kB free)"
	note "only ${avail_kb} kB free: $fit packets per capture instead of $PACKETS"
	PACKETS=$fit
fi

gen() {	# flows profile packets -> prints the file name
	out=$(fname "$1" "$2" "$3")
	if ! cached "$out"; then
		note "generating $out"
		timeout "$TIMEOUT" "$GENCAP" -o "$out.tmp" -n "$3" -f "$1" -p "$2" \
			2>"$out.info.tmp" || die "gencap failed: $(cat "$out.info.tmp")"
		sed 's/\.pcap\.tmp /.pcap /' "$out.info.tmp" >"$out.info" &&
			rm -f "$out.info.tmp" && mv "$out.tmp" "$out" || exit 1
	fi
	echo "$out"
}
info() { tr ' ' '\n' <"$1.info" | sed -n "s/^$2=//p"; }

# ---- tools -----------------------------------------------------------------

# Every other run in reverse order: a run is affected by the one before it
# (one that freed large tables leaves huge pages ready, so the next one pays
# less kernel time for its own), and no tool must always follow the same one.
run_order() {	# run number -> the tools in that run's order
	if [ $(($1 % 2)) -eq 1 ]; then
		echo $TOOLS
	else
		rev=
		for t in $TOOLS; do rev="$t $rev"; done
		echo $rev
	fi
}

d42conf() {	# flows [only-stats] -> settings name
	# Twice the flows (records per interval are about the flow count), and
	# listeners for every server (gencap: one per 16 flows, v4 and v6).
	mf=$(($1 * 2)); ml=$(($1 / 4)); [ $ml -ge 16384 ] || ml=16384
	os=false; [ -n "${2:-}" ] && os=true
	printf '{"common": {"Interval": 60, "max-flows": %d, "max-listeners": %d},\n "capture": {"only-stats": %s}}\n' \
		"$mf" "$ml" "$os" >"$B/conf/bench-$1${2:+-$2}.json"
	echo "bench-$1${2:+-$2}.json"
}
# d42check CAPTURE FLOWS [BINARY]: d42pcap decoded and counted every packet
# and refused no record ("reports packets flow_drops" on stdout)
d42check() {
	"${3:-$D42PCAP}" -r "$1" -settings-dir "$B/conf" -settings-name "$(d42conf "$2" stats)" \
		2>/dev/null | tr -d ' \n' |
		grep -o '"stats":{"packets":[0-9]*\|"flow_drops":[0-9]*' |
		awk -F: '/stats/ { n++; p += $3 } /flow_drops/ { d += $2 } END { print n + 0, p + 0, d + 0 }'
}
pmconf() {	# capture -> config path
	c=$B/tmp/pmacctd.conf
	cat >"$c" <<EOF
daemonize: false
pcap_savefile: $1
aggregate: src_host, dst_host, src_port, dst_port, proto
plugins: print[bench]
print_output[bench]: csv
print_output_file[bench]: $B/tmp/pmacctd.csv
print_output_file_append[bench]: true
print_refresh_time[bench]: 60
plugin_pipe_size[bench]: 102400000
plugin_buffer_size[bench]: 102400
EOF
	echo "$c"
}

# accounted TOOL: packets the last run of TOOL says it processed ("-" when
# the tool does not tell; d42pcap's counts are checked before callgrind)
accounted() {
	case $1 in
	floor|floor-plain) sed -n 's/^packets=\([0-9]*\) .*/\1/p' "$B/tmp/$1.out" ;;
	bound) sed -n 's/.* counted=\([0-9]*\) .*/\1/p' "$B/tmp/bound.out" ;;
	softflowd) sed -n 's/^Packets processed: *\([0-9]*\)$/\1/p' "$B/tmp/softflowd.out" ;;
	pmacctd) awk -F, '$1 != "SRC_IP" { p += $6 } END { print p + 0 }' \
			"$B/tmp/pmacctd.csv" 2>/dev/null ;;
	d42pcap) echo "$D42_ACC" ;;	# from its only-stats check run
	candidate) echo "$CAND_ACC" ;;
	esac
}

# run TOOL CAPTURE FLOWS STATFILE: one measured run; appends a runstat line
run_tool() {
	case $1 in
	floor)	"$RUNSTAT" "$TIMEOUT" "$4" "$FLOOR" "$2" >"$B/tmp/floor.out" 2>&1 ;;
	floor-plain) "$RUNSTAT" "$TIMEOUT" "$4" "$FLOOR" -plain "$2" >"$B/tmp/floor-plain.out" 2>&1 ;;
	bound)	"$RUNSTAT" "$TIMEOUT" "$4" "$BOUND" "$3" "$2" >"$B/tmp/bound.out" 2>&1 ;;
	d42pcap) "$RUNSTAT" "$TIMEOUT" "$4" "$D42PCAP" -r "$2" -settings-dir "$B/conf" \
			-settings-name "$(d42conf "$3")" >/dev/null 2>"$B/tmp/d42pcap.err" ;;
	candidate) "$RUNSTAT" "$TIMEOUT" "$4" "$CANDIDATE" -r "$2" -settings-dir "$B/conf" \
			-settings-name "$(d42conf "$3")" >/dev/null 2>"$B/tmp/candidate.err" ;;
	# softflowd 1.1.0 was seen to hang in accept() at start with an absolute
	# -c path: run it in tmp/ with relative control and pid files.
	softflowd) (cd "$B/tmp" && "$RUNSTAT" "$TIMEOUT" "$4" softflowd -r "$2" \
			-n 127.0.0.1:$SF_PORT -v 9 -6 -m 4194304 -c sf.ctl -p sf.pid -d \
			>softflowd.out 2>&1) ;;
	pmacctd) rm -f "$B/tmp/pmacctd.csv"
		"$RUNSTAT" "$TIMEOUT" "$4" pmacctd -f "$(pmconf "$2")" \
			>"$B/tmp/pmacctd.out" 2>&1 ;;
	esac
}
tool_ok() {
	case $1 in
	floor|floor-plain|bound|d42pcap) return 0 ;;
	candidate) [ -n "$CANDIDATE" ] ;;
	*) have "$1" ;;
	esac
}

# ---- measured runs ---------------------------------------------------------

MODE=${1:-run}
[ "$MODE" = report ] || : >"$RAW"
CAPS=
for f in $FLOWS; do
	for p in $PROFILES; do
		CAPS="$CAPS $(gen "$f" "$p" "$PACKETS")" || exit 1
	done
done
T_GEN=$(date +%s)
if [ "${1:-}" = gen ]; then	# `run.sh gen`: only make the captures
	for cap in $CAPS; do cat "$cap.info"; done
	exit 0
fi

for cap in $CAPS; do
	[ "$MODE" = report ] && break
	name=$(basename "$cap" .pcap)
	flows=$(info "$cap" flows)
	pk=$(info "$cap" packets)
	note "$name: warming the page cache, checking d42pcap's counts"
	"$FLOOR" "$cap" >/dev/null || die "floor cannot read $cap"
	set -- $(d42check "$cap" "$flows")
	[ "${2:-}" = "$pk" ] && [ "${3:-}" = 0 ] ||
		die "d42pcap on $cap: $* (reports packets flow_drops), expected $pk packets, 0 drops"
	D42_ACC=$2
	if [ -n "$CANDIDATE" ]; then
		set -- $(d42check "$cap" "$flows" "$CANDIDATE")
		[ "${2:-}" = "$pk" ] && [ "${3:-}" = 0 ] ||
			die "candidate on $cap: $* (reports packets flow_drops), expected $pk, 0"
		CAND_ACC=$2
	fi
	r=1
	while [ $r -le "$RUNS" ]; do
		for t in $(run_order $r); do
			tool_ok "$t" || continue
			st=$B/tmp/stat
			: >"$st"
			run_tool "$t" "$cap" "$flows" "$st"
			acc=$(accounted "$t")
			line="$(cat "$st") accounted=${acc:--}"
			note "$name run $r $t: $line"
			printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$t" "$r" "$pk" "$line" >>"$RAW"
			if [ "$t" = floor ] && [ "$acc" != "$pk" ]; then
				die "floor read $(cat "$B/tmp/floor.out"), expected $pk packets"
			fi
			# bound must have decoded every packet (gencap writes only
			# its common case) and counted each in its table
			if [ "$t" = bound ] && ! grep -q "^packets=$pk .* decoded=$pk counted=$pk " \
				"$B/tmp/bound.out"; then
				die "bound: $(cat "$B/tmp/bound.out"), expected $pk packets decoded and counted"
			fi
		done
		r=$((r + 1))
	done
done
T_RUNS=$(date +%s)

# ---- callgrind: instructions per packet ------------------------------------

CG=
if [ "$MODE" = report ]; then
	for f in $FLOWS; do
		for p in $CG_PROFILES; do
			[ -s "$B/cg/cap-$f-$p-$CG_PACKETS.d42pcap.out" ] && CG="$CG $f-$p"
		done
	done
elif [ "$CG_PACKETS" -gt 0 ] && have valgrind; then
	# The last run's outputs go: "report" shows what is there, and a
	# candidate measured before would otherwise stay in the table.
	rm -f "$B"/cg/*.out
	for f in $FLOWS; do
		for p in $CG_PROFILES; do
			big=$(gen "$f" "$p" "$CG_PACKETS") && tiny=$(gen "$f" "$p" $CG_TINY) || exit 1
			conf=$(d42conf "$f")
			set -- $(d42check "$big" "$f")
			[ "${2:-}" = "$CG_PACKETS" ] && [ "${3:-}" = 0 ] ||
				die "d42pcap on $big: $* (reports packets flow_drops), expected $CG_PACKETS, 0"
			for t in floor ${USE_BOUND:+bound} d42pcap ${CANDIDATE:+candidate}; do
				for c in "$tiny" "$big"; do
					o=$B/cg/$(basename "$c" .pcap).$t.out
					case $t in
					floor) set -- "$FLOOR" "$c" ;;
					bound) set -- "$BOUND" "$f" "$c" ;;
					d42pcap) set -- "$D42PCAP" -r "$c" -settings-dir "$B/conf" -settings-name "$conf" ;;
					candidate) set -- "$CANDIDATE" -r "$c" -settings-dir "$B/conf" -settings-name "$conf" ;;
					esac
					timeout "$TIMEOUT" valgrind --tool=callgrind --callgrind-out-file="$o" \
						"$@" >/dev/null 2>"$B/tmp/cg.err" ||
						die "callgrind $t $c failed: $(tail -3 "$B/tmp/cg.err")"
				done
			done
			CG="$CG $f-$p"
		done
	done
elif [ "$CG_PACKETS" -gt 0 ]; then
	note "valgrind missing: no instructions per packet"
fi
T_END=$(date +%s)
if [ "$MODE" = report ]; then
	read -r T0 T_GEN T_RUNS T_END D42_SUM CAND_SUM <"$B/times" ||
		die "no times from a previous run"
else
	echo "$T0 $T_GEN $T_RUNS $T_END $D42_SUM ${CAND_SUM:-}" >"$B/times"
fi

# ---- report ----------------------------------------------------------------

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { tr ' \t' '\n\n' | sed -n "s/^$1=//p"; }
cg_ir() { sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$1" | head -1; }
# instructions per packet: big run minus tiny run, over the packet difference
cg_per() { awk -v a="$(cg_ir "$1")" -v z="$(cg_ir "$2")" -v n=$((CG_PACKETS - CG_TINY)) \
	'BEGIN { printf "%.0f", (a - z) / n }'; }
# inclusive instructions of one d42pcap function (0 if absent)
cg_fn() { callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
	awk -v f=":$2 " 'index($0, f) { gsub(",", "", $1); print $1; found = 1; exit }
		END { if (!found) print 0 }'; }
# inclusive instructions of function $2 when called from function $3
cg_from() { callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$1" 2>/dev/null |
	awk -v ce=":$2 " -v cr=":$3 " '/^ *$/ { n = 0; next } { l[++n] = $0 }
		index($0, "*  ") && index($0, ce) {
			for (i = 1; i < n; i++) if (index(l[i], "< ") && index(l[i], cr)) {
				split(l[i], a, " "); gsub(",", "", a[1]); print a[1]; found = 1; exit } }
		END { if (!found) print 0 }'; }

{
	echo "## Offline throughput ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $RUNS runs each)"
	echo
	echo "d42pcap: $D42_SUM (cksum of the binary)${CANDIDATE:+; candidate: $CAND_SUM}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| capture | tool | Mpkt/s (median) | min-max | x floor | CPU s (median) | x floor by CPU | peak RSS MB | packets accounted | failed runs |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for cap in $CAPS; do
		name=$(basename "$cap" .pcap)
		fl=; flc=
		for t in $TOOLS; do
			grep -q "^$name	$t	" "$RAW" || continue
			rows=$(grep "^$name	$t	" "$RAW" | grep 'status=0 ')
			bad=$(grep "^$name	$t	" "$RAW" | grep -vc 'status=0 ')
			pk=$(grep "^$name	$t	" "$RAW" | head -1 | cut -f4)
			if [ -z "$rows" ]; then
				echo "| $name | $t | - | - | - | - | - | - | - | $bad |"
				continue
			fi
			# pmacctd: its own fixed sleeps are not work; and it is
			# credited with the packets it accounted, not those it read.
			sub=0
			[ "$t" = pmacctd ] && sub=$PMACCTD_SLEEPS
			acc=$(echo "$rows" | field accounted | median)
			[ -n "$acc" ] || acc=-
			credit=$pk
			[ "$t" = pmacctd ] && [ "$acc" != - ] && credit=$acc
			rates=$(echo "$rows" | field wall | awk -v p="$credit" -v s="$sub" '{ w = $1 - s; if (w <= 0) w = 0.001; print p / w / 1e6 }')
			med=$(echo "$rates" | median)
			mm=$(echo "$rates" | sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.2f-%.2f", a, b }')
			cpu=$(echo "$rows" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["user"] + v["sys"] }' | median)
			rss=$(echo "$rows" | field maxrss_kb | sort -n | tail -1)
			[ "$t" = floor ] && { fl=$med; flc=$cpu; }
			ratio=-; rcpu=-
			[ -n "$fl" ] && ratio=$(awk -v a="$med" -v b="$fl" 'BEGIN { printf "%.2f", a / b }')
			[ -n "$flc" ] && rcpu=$(awk -v a="$cpu" -v b="$flc" -v p="$pk" -v c="$credit" \
				'BEGIN { printf "%.2f", b / (a * p / c) }')
			if [ "$acc" = - ]; then
				accs="not reported"
			else
				accs=$(awk -v a="$acc" -v p="$pk" 'BEGIN { printf "%.1f%%", 100 * a / p }')
			fi
			printf '| %s | %s | %.2f | %s | %s | %.2f | %s | %.0f | %s | %s |\n' "$name" "$t" \
				"$med" "$mm" "$ratio" "$cpu" "$rcpu" \
				"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$accs" "$bad"
		done
	done
	echo
	echo "pmacctd: its fixed ${PMACCTD_SLEEPS} s of sleeps (2 s before and 2 s after reading a"
	echo "file) are subtracted from its wall time, and its rates (and CPU ratio) count only the"
	echo "packets its print plugin accounted: reading a file, pmacctd 1.7.7 accounts only a"
	echo "fraction of them (its core does not wait for its plugin; the rest is lost)."
	echo "d42pcap's count comes from one extra run per capture with capture.only-stats"
	echo "(same counting, no list), which must also show no flow_drops."
	if [ -n "$CG" ]; then
		echo
		echo "## Instructions per packet (callgrind, $CG_PACKETS-packet captures minus $CG_TINY-packet ones)"
		echo
		echo "| capture | binary | floor Ir/pkt | bound Ir/pkt | d42pcap Ir/pkt | d42pcap - floor | of which packet path | of which reports |"
		echo "|---|---|---|---|---|---|---|---|"
		for fp in $CG; do
			f=${fp%%-*}; p=${fp#*-}
			irf=$(cg_per "$B/cg/cap-$f-$p-$CG_PACKETS.floor.out" "$B/cg/cap-$f-$p-$CG_TINY.floor.out")
			irb=-
			[ -s "$B/cg/cap-$f-$p-$CG_PACKETS.bound.out" ] &&
				irb=$(cg_per "$B/cg/cap-$f-$p-$CG_PACKETS.bound.out" "$B/cg/cap-$f-$p-$CG_TINY.bound.out")
			for t in d42pcap candidate; do
				o=$B/cg/cap-$f-$p-$CG_PACKETS.$t.out
				[ -s "$o" ] || continue
				ir=$(cg_per "$o" "$B/cg/cap-$f-$p-$CG_TINY.$t.out")
				pp=$(cg_fn "$o" agent_packet); rp=$(cg_fn "$o" agent_report)
				rf=$(cg_from "$o" agent_report agent_flush)
				# agent_packet includes the reports cut while reading;
				# agent_report covers them all (the last from agent_flush).
				echo "| $f flows, $p | $t | $irf | $irb | $ir | $((ir - irf)) |" \
					"$(awk -v a="$pp" -v r="$rp" -v f="$rf" -v n="$CG_PACKETS" \
					'BEGIN { printf "%.0f | %.0f |", (a - (r - f)) / n, r / n }')"
			done
		done
		echo
		echo "Packet path: agent_packet() without the reports it triggers (decode, tables);"
		echo "reports: agent_report() (sorting, JSON); both per packet of the $CG_PACKETS-packet"
		echo "capture (not minus the tiny one)."
	fi
	echo
	echo "Time: captures $((T_GEN - T0)) s, measured runs $((T_RUNS - T_GEN)) s," \
		"callgrind $((T_END - T_RUNS)) s, total $((T_END - T0)) s."
} >"$RESULTS"
cat "$RESULTS"
