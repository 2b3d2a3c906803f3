#!/bin/sh
# No heap allocation after start-up (issue 6). tests/malloc_count.c is
# LD_PRELOADed into d42pcap -r over a generated capture (300k packets, 50k
# flows, six 1-second intervals, listeners expiring between them); it counts
# every malloc/calloc/realloc/memalign... made between the first
# pcap_dispatch() and pcap_close(). Any such allocation fails the test, and
# the report names its call stack. A probe program first proves that the
# counter sees allocations made after pcap_dispatch() and none after
# pcap_close().
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
CFLAGS_T="-std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror"
PACKETS=300000
FLOWS=50000
PPS=50000		# 6 s of packets: six 1-second intervals
INTERVALS=6
MC=$T_TMP/malloc_count.so

# What a count file says: key=value from its first line.
mc_get() { head -1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# The traced call stacks, with d42pcap's own frames turned into names.
# (frames inside the counter itself are left out; addresses are return
# addresses, so d42pcap's are looked up one byte earlier, inside the call)
mc_sites() {
	sed -n '2,$p' "$1" | while read -r addr obj sym; do
		case $addr:$obj:$sym in
		site:*)	[ "$obj" -lt 3 ] || break
			echo "site $obj:" ;;
		*malloc_count.so:*) ;;
		*:"$D42PCAP":"?+"*)
			if command -v addr2line >/dev/null 2>&1; then
				off=$(printf '0x%x' $((${sym#??} - 1)))
				echo "  $(addr2line -f -e "$obj" "$off" | head -1) (d42pcap $sym)"
			else
				echo "  $addr $obj $sym"
			fi ;;
		*)	echo "  $addr $obj $sym" ;;
		esac
	done
}

if [ ! -x "$D42PCAP" ]; then
	skip nomalloc "no $D42PCAP (run make)"
	exit 0
fi
libs=$(ldd "$D42PCAP" 2>/dev/null)
# A sanitizer runtime (shared with gcc, linked in with clang) owns malloc:
# an LD_PRELOADed counter would see nothing and pass for nothing.
if command -v nm >/dev/null 2>&1 &&
   nm -D "$D42PCAP" 2>/dev/null | grep -q '__[atm]san_init'; then
	libs="$libs libasan"
fi
case $libs in
*libasan*|*libtsan*|*libmsan*)
	skip nomalloc "sanitizer build: its runtime owns malloc, LD_PRELOAD cannot count"
	exit 0 ;;
*libpcap*) ;;
*)	skip nomalloc "$D42PCAP does not load libpcap dynamically (static build?)"
	exit 0 ;;
esac

if ! $CC $CFLAGS_T -Wshadow -Wstrict-prototypes -Wmissing-prototypes -O2 -shared -fPIC \
	-o "$MC" "$TOP/tests/malloc_count.c" -ldl >"$T_TMP/cc.out" 2>&1; then
	fail nomalloc_build "$(head -c 600 "$T_TMP/cc.out")"
	exit 0
fi
if ! $CC $CFLAGS_T -O2 -o "$T_TMP/gencap" "$TOP/tests/bench/gencap.c" >"$T_TMP/cc.out" 2>&1 ||
   ! "$T_TMP/gencap" -o "$T_TMP/cap.pcap" -n $PACKETS -f $FLOWS -p small -r $PPS \
	2>"$T_TMP/gen.out"; then
	fail nomalloc_build "gencap: $(head -c 600 "$T_TMP/cc.out" "$T_TMP/gen.out")"
	exit 0
fi

# ---- the counter counts -------------------------------------------------
# -O0 -fno-builtin: the compiler must not drop the malloc/free pairs.
cat >"$T_TMP/probe.c" <<'EOF'
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
static void cb(u_char *u, const struct pcap_pkthdr *h, const u_char *d)
{
	(void)h; (void)d; (*(unsigned long *)(void *)u)++;
}
int main(int argc, char **argv)
{
	char eb[PCAP_ERRBUF_SIZE];
	unsigned long n = 0;
	void *c = NULL;
	char *a, *b;
	pcap_t *p = pcap_open_offline(argv[1], eb);

	if (argc != 3 || !p || pcap_dispatch(p, -1, cb, (u_char *)&n) < 0 || n == 0)
		return 1;
	if (strcmp(argv[2], "alloc") == 0) {	/* 4 allocations, 3 frees */
		a = malloc(10);
		b = calloc(2, 8);
		b = realloc(b, 64);
		if (!a || !b || posix_memalign(&c, 64, 128) != 0)
			return 1;
		memset(a, 1, 10); memset(b, 1, 64); memset(c, 1, 128);
		free(a); free(b); free(c);
	}
	pcap_close(p);
	a = malloc(32);		/* tear-down: not counted */
	if (!a)
		return 1;
	memset(a, 1, 32);
	free(a);
	return 0;
}
EOF
if ! $CC $CFLAGS_T -O0 -fno-builtin -o "$T_TMP/probe" "$T_TMP/probe.c" -lpcap \
	>"$T_TMP/cc.out" 2>&1; then
	fail nomalloc_build "probe: $(head -c 600 "$T_TMP/cc.out")"
	exit 0
fi
for mode in quiet alloc; do
	out=$T_TMP/probe.$mode
	MALLOC_COUNT_OUT=$out LD_PRELOAD=$MC "$T_TMP/probe" "$T_TMP/cap.pcap" $mode
	rc=$?
	got="$(mc_get "$out" after_allocs) $(mc_get "$out" after_frees) $(mc_get "$out" after_bytes) $(mc_get "$out" dispatch_calls) $(mc_get "$out" closed)"
	case $mode in
	quiet) want="0 0 0 1 1" ;;
	alloc) want="4 3 218 1 1" ;;	# 10 + 2*8 + 64 + 128 bytes
	esac
	if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
		ok nomalloc_counter_$mode
	else
		fail nomalloc_counter_$mode "rc=$rc; allocs frees bytes dispatches closed: got '$got', want '$want'"
	fi
done

# ---- d42pcap --------------------------------------------------------------
# run NAME SETTINGS: d42pcap -r over the capture, counted
run_d42() {
	printf '%s\n' "$2" >"$T_TMP/$1.json"
	# env after timeout: only d42pcap gets the counter, not timeout(1)
	timeout 60 env MALLOC_COUNT_OUT="$T_TMP/$1.count" LD_PRELOAD="$MC" "$D42PCAP" \
		-r "$T_TMP/cap.pcap" -settings-dir "$T_TMP" -settings-name "$1.json" \
		>"$T_TMP/$1.out" 2>"$T_TMP/$1.err"
}
# check NAME: the run read everything, then allocated nothing
check_run() {
	c=$T_TMP/$1.count
	if [ ! -s "$c" ]; then
		fail "$1" "no count written: $(head -c 400 "$T_TMP/$1.err")"
		return
	fi
	a=$(mc_get "$c" after_allocs)
	d=$(mc_get "$c" dispatch_calls)
	cl=$(mc_get "$c" closed)
	if [ "${d:-0}" -eq 0 ] || [ "$cl" != 1 ]; then
		fail "$1" "start-up/tear-down not seen (dispatch_calls=$d closed=$cl)"
	elif [ "$(mc_get "$c" startup_allocs)" = 0 ]; then
		# d42pcap allocates its tables at start-up: seeing none means
		# the counter was not interposed (static or sanitizer malloc)
		fail "$1" "the counter saw no allocation at all: not interposed"
	elif [ "$a" != 0 ]; then
		fail "$1" "$a heap allocation(s), $(mc_get "$c" after_bytes) bytes, after start-up; first call stacks:
$(mc_sites "$c")"
	else
		ok "$1"
	fi
}
# reports NAME: "<reports> <packets> <flow_drops>" from the JSON output
reports() {
	tr -d ' \n' <"$T_TMP/$1.out" |
		grep -o '"stats":{"packets":[0-9]*\|"flow_drops":[0-9]*' |
		awk -F: '/stats/ { n++; p += $3 } /flow_drops/ { d += $2 }
			END { print n + 0, p + 0, d + 0 }'
}

run_d42 nomalloc_run '{"common": {"Interval": 1, "max-flows": 65536,
  "max-listeners": 8192, "listener-ttl": 2}}'
rc=$?
set -- $(reports nomalloc_run)
if [ $rc -ne 0 ] || [ "$1 $2 $3" != "$INTERVALS $PACKETS 0" ]; then
	fail nomalloc_run_output "rc=$rc; reports packets flow_drops: '$*', want '$INTERVALS $PACKETS 0'"
else
	ok nomalloc_run_output
fi
check_run nomalloc_run

# Full tables (drops, warnings, "nok" lines), a BPF filter, pretty output.
run_d42 nomalloc_full '{"common": {"Interval": 1, "max-flows": 1000,
  "max-listeners": 100, "listener-ttl": 1, "pretty": true},
  "capture": {"live-entries-nok": true, "ignore-ports": [5060]}}'
rc=$?
set -- $(reports nomalloc_full)
if [ $rc -ne 0 ] || [ "$1" != $INTERVALS ] || [ "$2" -ge $PACKETS ] || [ "$3" -eq 0 ]; then
	fail nomalloc_full_output "rc=$rc; reports packets flow_drops: '$*' (want $INTERVALS, < $PACKETS, > 0)"
else
	ok nomalloc_full_output
fi
check_run nomalloc_full
