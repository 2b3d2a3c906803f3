#!/bin/sh
# Replays every saved fuzz input (tests/fuzz/corpus/NAME/*) through its
# target, without libFuzzer: each tests/fuzz/fuzz_NAME.c is linked with
# tests/fuzz/replay_main.c and the src objects by $CC (the normal build's
# compiler), with -fsanitize=address,undefined when that compiler can build
# and run such a program. One "ok fuzz_replay_NAME" / FAIL line per target;
# a FAIL names the inputs that fail. Builds into build/fuzz-replay/.
. "$(dirname "$0")/lib.sh"

CC=${CC:-cc}
MAKE=${MAKE:-make}
case $MAKE in *\ *) MAKE=make ;; esac	# make passes its own path; keep it simple

# Sanitizers if this compiler has them and the result runs here.
SAN=""
cat >"$T_TMP/san.c" <<'EOF'
#include <stdlib.h>
int main(void) { char *p = malloc(4); p[0] = 0; free(p); return 0; }
EOF
# LeakSanitizer does not work everywhere (ptrace, some containers): then
# keep ASan and UBSan without it.
LEAKS=1
if $CC -fsanitize=address,undefined -o "$T_TMP/san" "$T_TMP/san.c" >/dev/null 2>&1; then
	if "$T_TMP/san" >/dev/null 2>&1; then
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	elif ASAN_OPTIONS=detect_leaks=0 "$T_TMP/san" >/dev/null 2>&1; then
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
		LEAKS=0
	fi
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=$LEAKS:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Build through the make fragment alone, so the top Makefile's other
# includes cannot break this test. One job unless make was given more.
if ! (cd "$TOP" && $MAKE -s -f tests/fuzz/fuzz.mk fuzz-replay-bins \
	FUZZ_REPLAY_CC="$CC" FUZZ_REPLAY_SAN="$SAN") >"$T_TMP/build.log" 2>&1; then
	for src in "$TOP"/tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c); name=${name#fuzz_}
		fail "fuzz_replay_$name" "build failed: $(tail -c 600 "$T_TMP/build.log")"
	done
	exit 1
fi
BIN=$TOP/build/fuzz-replay/$(basename "${CC%% *}")${SAN:+-san}
[ -n "$SAN" ] || echo "# $CC: no working -fsanitize=address,undefined; replaying without"

# Runs target $1 on inputs $2...; output in $T_TMP/out. The extra
# subshell keeps the shell's "Aborted" notice out of the test output.
replay() {
	bin=$BIN/fuzz_$1; shift
	( (cd "$T_TMP" && TMPDIR=$T_TMP exec "$bin" "$@") >"$T_TMP/out" 2>&1; exit $? ) \
		2>/dev/null
}

# First line that says what went wrong.
why() {
	grep -m1 -E 'check failed|ERROR: |runtime error|SUMMARY: ' "$T_TMP/out" | head -c 300
}

rc=0
for src in "$TOP"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c); name=${name#fuzz_}
	dir=$TOP/tests/fuzz/corpus/$name
	t=fuzz_replay_$name
	if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
		fail "$t" "no saved inputs in tests/fuzz/corpus/$name"
		rc=1
		continue
	fi
	n=$(ls -A "$dir" | wc -l)
	if replay "$name" "$dir"; then
		ok "$t ($n inputs)"
		continue
	fi
	msg=$(why)
	# Name the failing inputs, one run each (bounded by the corpus size).
	bad=""
	for f in "$dir"/*; do
		if ! replay "$name" "$f"; then
			bad="$bad ${f##*/}"
			[ -n "$msg" ] || msg=$(why)
		fi
	done
	fail "$t" "inputs that fail:${bad:- none alone, only in sequence}: $msg"
	rc=1
done
exit $rc
