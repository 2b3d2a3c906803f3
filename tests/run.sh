#!/bin/sh
# Runs every unit-test program given as an argument, then every tests/t_*.sh
# (or only those named in $TESTS), and counts "ok"/"FAIL"/"SKIP" lines.
# Ends with "N passed, N failed, N skipped"; exit 1 if anything failed.
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
LOG=${TEST_LOG:-$TOP/build/test.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

run_one() {
	name=$1; shift
	echo "== $name" >>"$LOG"
	out=$(timeout "$TEST_TIMEOUT" "$@" 2>&1); rc=$?
	printf '%s\n' "$out" >>"$LOG"
	printf '%s\n' "$out" | grep -E '^(ok|FAIL|SKIP) ' | sed "s|^|[$name] |"
	if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
		# a program that died without reporting a failure is one
		echo "[$name] FAIL $name: exited with status $rc (see $LOG)"
	fi
}

{
	for t in "$@"; do run_one "$(basename "$t")" "$t"; done
	for t in ${TESTS:-"$TOP"/tests/t_*.sh}; do
		[ -f "$t" ] || t=$TOP/tests/$t
		run_one "$(basename "$t" .sh)" sh "$t"
	done
} | tee "$LOG.summary"

p=$(grep -c '\] ok ' "$LOG.summary")
f=$(grep -c '\] FAIL ' "$LOG.summary")
s=$(grep -c '\] SKIP ' "$LOG.summary")
if [ "$f" -gt 0 ]; then
	echo "failures (details in $LOG):"
	grep '\] FAIL ' "$LOG.summary"
fi
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
