#!/bin/sh
# cross_compare.sh [-t NAME] REFERENCE CROSS [CAPTURE|DIR ...]
#
# Runs `d42pcap -r CAPTURE` with a reference build (normally the native one)
# and with a cross-built one, given as a command such as
# "qemu-mips build/mips/d42pcap", with the same settings, and compares the
# exit status and the standard output after normalising the agent's host name,
# version and capture directory (as tests/t_golden.sh does). Prints
# "[NAME] ok cross_CAPTURE" or "[NAME] FAIL cross_CAPTURE: ..." per capture;
# exits 1 if any differs. A DIR stands for the captures found under it.
#
# Without CAPTURE arguments: tests/data/*.pcap*, the tests/gen_pcap.py suite
# ($CROSS_SUITE_DIR if set, else generated when python3 is there), and a
# sample of $CORPUS chosen by $CROSS_CORPUS:
# "sample" (default: every 10th capture of MANIFEST.tsv), "all" or "none".
. "$(dirname "$0")/lib.sh"

name=cross
if [ "${1:-}" = -t ]; then name=$2; shift 2; fi
if [ $# -lt 2 ]; then
	echo "usage: $0 [-t NAME] REFERENCE CROSS [CAPTURE|DIR ...]" >&2
	exit 2
fi
ref=$1 cross=$2
shift 2
RUN_TIMEOUT=${CROSS_TIMEOUT:-300}
CROSS_CORPUS=${CROSS_CORPUS:-sample}

printf '{"common":{"Interval":60}}\n' >"$T_TMP/x.json"
: >"$T_TMP/list"
if [ $# -eq 0 ]; then
	for f in "$TOP"/tests/data/*.pcap "$TOP"/tests/data/*.pcapng; do
		[ -f "$f" ] && echo "$f" >>"$T_TMP/list"
	done
	if [ -n "${CROSS_SUITE_DIR:-}" ] && [ -d "$CROSS_SUITE_DIR" ]; then
		set -- "$CROSS_SUITE_DIR"
	elif command -v python3 >/dev/null 2>&1; then
		mkdir -p "$T_TMP/suite"
		if python3 "$TOP/tests/gen_pcap.py" suite "$T_TMP/suite" >/dev/null 2>&1; then
			set -- "$T_TMP/suite"
		else
			echo "[$name] FAIL cross_suite: tests/gen_pcap.py suite failed"
		fi
	else
		echo "[$name] SKIP cross_suite: no python3 to generate the capture suite"
	fi
	case $CROSS_CORPUS in
	none) ;;
	sample | all)
		if have_corpus; then
			step=10
			[ "$CROSS_CORPUS" = all ] && step=1
			awk -F '\t' -v step=$step -v dir="$CORPUS" \
				'NR > 1 && (NR - 2) % step == 0 { print dir "/" $1 }' \
				"$CORPUS/MANIFEST.tsv" >>"$T_TMP/list"
		else
			echo "[$name] SKIP cross_corpus: no corpus at $CORPUS"
		fi ;;
	*) echo "[$name] FAIL cross_corpus: CROSS_CORPUS must be sample, all or none" ;;
	esac
fi
for a in "$@"; do
	if [ -d "$a" ]; then
		find "$a" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) |
			sort >>"$T_TMP/list"
	else
		echo "$a" >>"$T_TMP/list"
	fi
done

normalise() {
	sed -e 's/"host":"[^"]*"/"host":""/' -e 's/"version":"[^"]*"/"version":""/' \
	    -e 's|"interface":"[^"]*/|"interface":"|' "$1"
}

# run OUT COMMAND...: stdout of `COMMAND -r CAPTURE ...` in OUT.out, status in OUT.rc
run() {
	o=$1; shift
	timeout "$RUN_TIMEOUT" "$@" -r "$cap" -settings-dir "$T_TMP" -settings-name x.json \
		>"$o.raw" 2>"$o.err"
	echo $? >"$o.rc"
	normalise "$o.raw" >"$o.out"
}

n=0 bad=0
while IFS= read -r cap; do
	[ -n "$cap" ] || continue
	case $cap in "$CORPUS"/*) t=${cap#"$CORPUS"/} ;; *) t=$(basename "$cap") ;; esac
	t=cross_$t
	if [ ! -f "$cap" ]; then
		echo "[$name] FAIL $t: no such capture $cap"; bad=$((bad + 1)); continue
	fi
	n=$((n + 1))
	# REFERENCE and CROSS are command lines (emulator + binary): split them.
	# shellcheck disable=SC2086
	run "$T_TMP/ref" $ref
	# shellcheck disable=SC2086
	run "$T_TMP/cross" $cross
	if ! cmp -s "$T_TMP/ref.rc" "$T_TMP/cross.rc"; then
		echo "[$name] FAIL $t: exit status $(cat "$T_TMP/ref.rc") (reference) vs $(cat "$T_TMP/cross.rc"): $(head -c 300 "$T_TMP/cross.err")"
		bad=$((bad + 1))
	elif ! cmp -s "$T_TMP/ref.out" "$T_TMP/cross.out"; then
		echo "[$name] FAIL $t: output differs: $(diff "$T_TMP/ref.out" "$T_TMP/cross.out" | head -c 600)"
		bad=$((bad + 1))
	else
		echo "[$name] ok $t"
	fi
done <"$T_TMP/list"
[ $n -gt 0 ] || { echo "[$name] FAIL cross_captures: no capture to compare"; bad=1; }
[ $bad -eq 0 ]
