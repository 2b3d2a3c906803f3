#!/bin/sh
# Logging: size-based rotation of d42pcap.log (common.log-max-bytes and
# log-max-files) with -debug filling it; -debug raises the level; an
# unusable logs-dir falls back to stderr. As root: a log directory the
# dropped-to user cannot write makes rotation truncate instead (said once);
# common.syslog sends to /dev/log (a listener of the test's own, in a private
# mount namespace), and a missing /dev/log is said once and costs nothing.
. "$(dirname "$0")/lib.sh"

DEMO=$TOP/tests/data/demo.pcapng
LINE_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z d42pcap: (error|warning|info|debug): '
MAX=4096

# whole_lines FILE: every line is one complete log line
whole_lines() {
	[ ! -s "$1" ] || { [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] &&
		! grep -Evq "$LINE_RE" "$1"; }
}

# ---- syslog (run inside unshare -m) ----
syslog_part() {
	T=$1
	# An empty /dev of our own: /dev/log is whatever we bind there.
	if ! mount -t tmpfs -o size=1m,mode=0755 d42dev /dev || ! mknod -m 666 /dev/null c 1 3; then
		fail syslog "cannot set up a private /dev"
		return
	fi
	printf '{"common":{"Interval":60,"syslog":true}}\n' >"$T/s.json"

	# No syslogd: said once on stderr, the run is otherwise unaffected.
	"$D42PCAP" -r "$DEMO" -settings-dir "$T" -settings-name s.json -debug \
		>"$T/s0.out" 2>"$T/s0.err"
	st=$?
	n=$(grep -c 'warning: cannot send to syslog (/dev/log): No such file or directory' "$T/s0.err")
	[ $st -eq 0 ] && [ "$n" = 1 ] && cmp -s "$T/s0.out" "$T/ref.out" && ok syslog_absent ||
		fail syslog_absent "exit $st, $n warnings: $(head -c 400 "$T/s0.err")"

	python3 - "$T/syslog.txt" "$T/ready" "$T/stop" <<'PY' &
import os, socket, sys, time
out, ready, stop = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(0.2)
open(ready, "w").close()
deadline = time.time() + 30
with open(out, "wb") as f:
    while time.time() < deadline:
        try:
            f.write(s.recv(4096) + b"\n")
            f.flush()
        except socket.timeout:
            if os.path.exists(stop):
                break
PY
	lpid=$!
	w=0
	while [ $w -lt 200 ] && [ ! -f "$T/ready" ]; do sleep 0.1; w=$((w + 1)); done
	"$D42PCAP" -r "$DEMO" -settings-dir "$T" -settings-name s.json >"$T/s1.out" 2>"$T/s1.err" &
	apid=$!
	wait $apid
	st=$?
	touch "$T/stop"
	wait $lpid
	stamp='[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'
	if [ $st -eq 0 ] &&
		grep -Eq "^<30>$stamp d42pcap\[$apid\]: info: d42pcap [^ ]+ capturing on $DEMO " "$T/syslog.txt" &&
		grep -Eq "^<30>$stamp d42pcap\[$apid\]: info: stopped after 3 reports$" "$T/syslog.txt"; then
		ok syslog_messages
	else
		fail syslog_messages "exit $st: $(head -c 600 "$T/syslog.txt")"
	fi
	# The same messages still go to stderr (no logs-dir).
	grep -q 'd42pcap: info: stopped after 3 reports' "$T/s1.err" && ok syslog_and_stderr ||
		fail syslog_and_stderr "$(cat "$T/s1.err")"
	umount /dev
}

if [ "${1:-}" = --syslog ]; then
	syslog_part "$2"
	exit 0
fi

if [ ! -f "$DEMO" ]; then
	fail logging "no $DEMO"
	exit 0
fi
"$D42PCAP" -r "$DEMO" >"$T_TMP/ref.out" 2>/dev/null

# ---- rotation ----
LOGS=$T_TMP/rot
mkdir -p "$LOGS"
printf '{"common":{"Interval":60,"logs-dir":"%s","log-max-bytes":%d,"log-max-files":3}}\n' \
	"$LOGS" $MAX >"$T_TMP/r.json"
"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name r.json -debug \
	>"$T_TMP/r.out" 2>"$T_TMP/r.err"
st=$?
files=$(cd "$LOGS" && ls | sort | tr '\n' ' ')
if [ $st -eq 0 ] && [ "$files" = "d42pcap.log d42pcap.log.1 d42pcap.log.2 d42pcap.log.3 " ]; then
	ok rotate_files
else
	fail rotate_files "exit $st, files: $files $(head -c 300 "$T_TMP/r.err")"
fi
bad=
for f in "$LOGS"/*; do
	size=$(wc -c <"$f")
	[ "$size" -le $MAX ] && [ "$size" -gt $((MAX / 2)) -o "$f" = "$LOGS/d42pcap.log" ] ||
		bad="$bad $(basename "$f"):$size"
	whole_lines "$f" || bad="$bad $(basename "$f"):torn"
done
[ -z "$bad" ] && ok rotate_sizes || fail rotate_sizes "$bad"
tail -1 "$LOGS/d42pcap.log" | grep -q 'info: stopped after 3 reports$' && ok rotate_newest_last ||
	fail rotate_newest_last "$(tail -1 "$LOGS/d42pcap.log")"
# Nothing lost or reordered: .3 .2 .1 and the current file, timestamps cut
# off, are exactly the end of the same run's unrotated log.
FULL=$T_TMP/full
mkdir -p "$FULL"
printf '{"common":{"Interval":60,"logs-dir":"%s"}}\n' "$FULL" >"$T_TMP/full.json"
"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name full.json -debug >/dev/null 2>&1
cat "$LOGS/d42pcap.log.3" "$LOGS/d42pcap.log.2" "$LOGS/d42pcap.log.1" "$LOGS/d42pcap.log" |
	cut -c22- >"$T_TMP/rotated.txt"
n=$(wc -l <"$T_TMP/rotated.txt")
cut -c22- "$FULL/d42pcap.log" | tail -n "$n" >"$T_TMP/full_tail.txt"
[ "$n" -gt 50 ] && cmp -s "$T_TMP/rotated.txt" "$T_TMP/full_tail.txt" && ok rotate_order ||
	fail rotate_order "$n lines; rotated files differ from the unrotated log's end"
cmp -s "$T_TMP/r.out" "$T_TMP/ref.out" && ok rotate_reports_unchanged ||
	fail rotate_reports_unchanged "logging changed the reports"
[ ! -s "$T_TMP/r.err" ] && ok rotate_quiet_stderr || fail rotate_quiet_stderr "$(head -c 300 "$T_TMP/r.err")"
# log-max-files lowered (3 -> 1) over the same directory: the files past
# the new count go at the next rotation (until 2026-11-27 .2 and .3 stayed)
printf '{"common":{"Interval":60,"logs-dir":"%s","log-max-bytes":%d,"log-max-files":1}}\n' \
	"$LOGS" $MAX >"$T_TMP/r1.json"
"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name r1.json -debug >/dev/null 2>&1
files=$(cd "$LOGS" && ls | sort | tr '\n' ' ')
[ "$files" = "d42pcap.log d42pcap.log.1 " ] && ok rotate_fewer_files ||
	fail rotate_fewer_files "files: $files"

# ---- -debug raises the level ----
LOGS2=$T_TMP/lvl
mkdir -p "$LOGS2"
"$D42PCAP" -r "$DEMO" -logs-dir "$LOGS2" >/dev/null 2>&1
n=$(grep -c ' d42pcap: debug: ' "$LOGS2/d42pcap.log")
[ "$n" = 0 ] && grep -q 'info: stopped after 3 reports' "$LOGS2/d42pcap.log" && ok level_info ||
	fail level_info "$n debug lines without -debug"
rm -f "$LOGS2/d42pcap.log"
"$D42PCAP" -r "$DEMO" -logs-dir "$LOGS2" -debug >/dev/null 2>&1
n=$(grep -c ' d42pcap: debug: ' "$LOGS2/d42pcap.log")
[ "$n" -gt 100 ] && ok level_debug || fail level_debug "$n debug lines with -debug"

# ---- a message quoting control characters is still one line ----
LOGS4=$T_TMP/ctl
mkdir -p "$LOGS4"
BADNAME="$T_TMP/forged
2026-01-01T00:00:00Z d42pcap: info: fake	line.pcap"
"$D42PCAP" -r "$BADNAME" -logs-dir "$LOGS4" >/dev/null 2>&1
st=$?
n=$(grep -c 'fake line\.pcap' "$LOGS4/d42pcap.log" 2>/dev/null)
if [ $st -eq 1 ] && [ "$n" = 1 ] && whole_lines "$LOGS4/d42pcap.log" &&
	! grep -q '^2026-01-01T00:00:00Z' "$LOGS4/d42pcap.log"; then
	ok log_control_chars
else
	fail log_control_chars "exit $st, $n lines: $(head -c 400 "$LOGS4/d42pcap.log")"
fi
# The start-up error's copy on standard error is the same one line (until
# 2026-11-29 it was the raw text: the forged line was on stderr).
"$D42PCAP" -r "$BADNAME" -logs-dir "$LOGS4" >/dev/null 2>"$T_TMP/ctl.err"
if grep -q '^d42pcap: error: cannot read capture .*fake line\.pcap' "$T_TMP/ctl.err" &&
	! grep -q '^2026-01-01T00:00:00Z' "$T_TMP/ctl.err"; then
	ok log_control_chars_stderr
else
	fail log_control_chars_stderr "$(head -c 400 "$T_TMP/ctl.err")"
fi

# ---- DEL, C1 controls, bytes that are not UTF-8: still readable text ----
# (until 2026-11-29 written raw: GNU grep called the log a binary file and
# journalctl shows such a line as "[blob data]")
LOGS6=$T_TMP/utf8
mkdir -p "$LOGS6"
"$D42PCAP" -r "$(printf '%s/a\177b\303(c\302\233d\303\251.pcap' "$T_TMP")" -logs-dir "$LOGS6" \
	>/dev/null 2>"$T_TMP/utf8.err"
if python3 - "$LOGS6/d42pcap.log" "$T_TMP/utf8.err" <<'EOF'
import sys
for f in sys.argv[1:]:
    t = open(f, 'rb').read().decode('utf-8')	# raises on a byte that is not UTF-8
    assert 'a b?(c  d\u00e9.pcap' in t, repr(t)
    assert not any(0x7f <= ord(c) <= 0x9f for c in t), repr(t)
EOF
then
	ok log_not_utf8
else
	fail log_not_utf8 "$(od -c "$LOGS6/d42pcap.log" | head -8)"
fi

# ---- a FIFO where the log goes: refused at once, stderr instead ----
LOGS5=$T_TMP/fifo
mkdir -p "$LOGS5"
mkfifo "$LOGS5/d42pcap.log"
timeout -s KILL 20 "$D42PCAP" -r "$DEMO" -logs-dir "$LOGS5" >"$T_TMP/f.out" 2>"$T_TMP/f.err"
st=$?
if [ $st -eq 0 ] && grep -q 'info: stopped after 3 reports' "$T_TMP/f.err" &&
	cmp -s "$T_TMP/f.out" "$T_TMP/ref.out"; then
	ok log_fifo_no_wait
else
	fail log_fifo_no_wait "exit $st (137: hung, killed): $(head -c 400 "$T_TMP/f.err")"
fi

# ---- an unusable logs-dir: stderr, and the run goes on ----
"$D42PCAP" -r "$DEMO" -logs-dir "$T_TMP/no/such/dir" >"$T_TMP/u.out" 2>"$T_TMP/u.err"
st=$?
if [ $st -eq 0 ] && grep -q "warning: cannot open the log in $T_TMP/no/such/dir: No such file or directory; logging to stderr" \
	"$T_TMP/u.err" && grep -q 'info: stopped after 3 reports' "$T_TMP/u.err" &&
	cmp -s "$T_TMP/u.out" "$T_TMP/ref.out"; then
	ok logs_dir_unusable
else
	fail logs_dir_unusable "exit $st: $(head -c 400 "$T_TMP/u.err")"
fi

if ! is_root || ! id nobody >/dev/null 2>&1; then
	skip logging_root "needs root and a user nobody (truncation instead of rotation, syslog)"
	exit 0
fi

# ---- a log directory the dropped-to user cannot write: truncate ----
chmod 755 "$T_TMP"
LOGS3=$T_TMP/ro
mkdir -p "$LOGS3"
chmod 755 "$LOGS3"
printf '{"common":{"Interval":60,"logs-dir":"%s","log-max-bytes":%d,"log-max-files":3}}\n' \
	"$LOGS3" $MAX >"$T_TMP/t.json"
"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name t.json -user nobody -debug \
	>"$T_TMP/t.out" 2>"$T_TMP/t.err"
st=$?
n=$(grep -c "warning: cannot rotate $LOGS3/d42pcap.log: Permission denied; truncating it instead" "$T_TMP/t.err")
files=$(cd "$LOGS3" && ls | tr '\n' ' ')
size=$(wc -c <"$LOGS3/d42pcap.log")
if [ $st -eq 0 ] && [ "$n" = 1 ] && [ "$files" = "d42pcap.log " ] && [ "$size" -le $MAX ] &&
	whole_lines "$LOGS3/d42pcap.log" &&
	[ "$(stat -c %U "$LOGS3/d42pcap.log")" = nobody ]; then
	ok rotate_truncates
else
	fail rotate_truncates "exit $st, $n warnings, files $files, size $size: $(head -c 300 "$T_TMP/t.err")"
fi

# ---- syslog, in a private mount namespace ----
if command -v unshare >/dev/null 2>&1; then
	unshare -m sh "$0" --syslog "$T_TMP"
else
	skip syslog "no unshare"
fi

# ---- the log deleted without a SIGHUP: the next rotation makes a new one ----
# (live, on the loopback of a network namespace of the test's own; SIGUSR1
# writes statistics lines until the size limit is reached)
NS=d42log$$
if ! command -v ip >/dev/null 2>&1 || ! lo_ns "$NS"; then
	skip log_deleted_new_file "no network namespace (iproute2)"
	exit 0
fi
LOGS6=$T_TMP/del
mkdir -p "$LOGS6"
printf '{"common":{"Interval":60,"logs-dir":"%s","log-max-bytes":4096,"log-max-files":2},"pcap":{"Device":"lo","promiscuous-mode":false}}\n' \
	"$LOGS6" >"$T_TMP/del.json"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name del.json \
	>/dev/null 2>"$T_TMP/del.err" &
pid=$!
if wait_for "$LOGS6/d42pcap.log" 'info: d42pcap .* capturing on lo' 100; then
	rm "$LOGS6/d42pcap.log"
	i=0
	while [ $i -lt 80 ]; do
		kill -USR1 $pid
		sleep 0.02
		i=$((i + 1))
	done
	if wait_for "$LOGS6/d42pcap.log" 'info: stats: interval' 50 &&
		! ls -l "/proc/$pid/fd" 2>/dev/null | grep -q 'd42pcap.log (deleted)'; then
		ok log_deleted_new_file
	else
		fail log_deleted_new_file "$(ls "$LOGS6") $(ls -l "/proc/$pid/fd" 2>/dev/null | grep d42pcap) $(head -c 300 "$T_TMP/del.err")"
	fi
else
	fail log_deleted_new_file "agent did not start: $(head -c 300 "$T_TMP/del.err")"
fi
stop_agent $pid TERM
