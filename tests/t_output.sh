#!/bin/sh
# The local output file stays bounded (common.output-max-bytes, -output):
#  - reading the demo twice with a 100-byte bound keeps exactly the last
#    report in FILE and the one before in FILE.1; 0 keeps every report;
#  - where FILE.1 cannot be made (here: a directory of that name), FILE is
#    emptied instead, with one warning per run;
#  - a name ending in "/" is refused as a directory;
#  - live, a file renamed away (logrotate) is followed: the next report
#    starts a new FILE (root, in a network namespace of its own).
. "$(dirname "$0")/lib.sh"

DEMO=$TOP/tests/data/demo.pcapng
T=$T_TMP
conf() {	# NAME MAX-BYTES
	printf '{"common": {"output-max-bytes": %s, "logs-dir": "%s"}}\n' "$2" "$T" >"$T/$1"
}
conf small.json 100
conf nobound.json 0
# line N of the demo's reports as written to standard output
"$D42PCAP" -settings-dir "$T" -settings-name small.json -r "$DEMO" >"$T/all.json" 2>"$T/all.err" ||
	fail output_reference "$(tail -c 300 "$T/all.err")"
line() { sed -n "$1p" "$T/all.json"; }
[ "$(wc -l <"$T/all.json")" -eq 3 ] || fail output_reference "expected 3 reports: $(wc -l <"$T/all.json")"

twice() {	# DIR SETTINGS [OPTION...]: two -r runs into DIR/r.json (the log:
		# $T/d42pcap.log)
	d=$1 s=$2
	shift 2
	mkdir -p "$d"
	for i in 1 2; do
		"$D42PCAP" -settings-dir "$T" -settings-name "$s" -r "$DEMO" -output "$d/r.json" "$@" \
			>"$d/out" 2>>"$d/err" || return 1
	done
}

if twice "$T/rot" small.json && [ "$(cat "$T/rot/r.json")" = "$(line 3)" ] &&
   [ "$(cat "$T/rot/r.json.1")" = "$(line 2)" ] && [ ! -s "$T/rot/out" ] &&
   [ "$(ls "$T/rot" | grep -c '^r\.json')" -eq 2 ]; then
	ok output_rotates_by_size
else
	fail output_rotates_by_size "$(ls "$T/rot"; tail -c 300 "$T/rot/err")"
fi

if twice "$T/all" nobound.json && [ "$(wc -l <"$T/all/r.json")" -eq 6 ] &&
   [ "$(sed -n 6p "$T/all/r.json")" = "$(line 3)" ] && [ ! -e "$T/all/r.json.1" ]; then
	ok output_zero_never_rotates
else
	fail output_zero_never_rotates "$(ls "$T/all"; wc -l "$T/all/r.json")"
fi

mkdir -p "$T/norot/r.json.1"
if twice "$T/norot" small.json && [ "$(cat "$T/norot/r.json")" = "$(line 3)" ] &&
   [ "$(grep -c 'cannot rotate .*r\.json.*emptying it instead' "$T/d42pcap.log")" -eq 2 ]; then
	ok output_cannot_rotate_empties
else
	fail output_cannot_rotate_empties "$(wc -c "$T/norot/r.json"; grep rotate "$T/d42pcap.log")"
fi

# A name ending in "/" is a directory: said so, not "no such file".
mkdir -p "$T/adir"
printf '{}\n' >"$T/empty.json"
"$D42PCAP" -settings-dir "$T" -settings-name empty.json -r "$DEMO" -output "$T/adir/" \
	>/dev/null 2>"$T/adir.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "cannot open output $T/adir/: Is a directory" "$T/adir.err"; then
	ok output_dir_refused
else
	fail output_dir_refused "exit $rc: $(tail -c 300 "$T/adir.err")"
fi

# A FIFO where the output goes (no reader): refused at once, not waited on
# for ever (which SIGTERM could not end); a symbolic link: not followed.
mkfifo "$T/fifo.json"
timeout -s KILL 20 "$D42PCAP" -r "$DEMO" -output "$T/fifo.json" >/dev/null 2>"$T/fifo.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "cannot open output $T/fifo.json: No such device or address" "$T/fifo.err"; then
	ok output_fifo_no_wait
else
	fail output_fifo_no_wait "exit $rc (137: hung, killed): $(tail -c 300 "$T/fifo.err")"
fi
# A FIFO with a reader: reports far larger than the pipe arrive whole
# although the reader only starts reading 2 s later (writes wait, as on
# standard output; only the open does not).
$GEN flows 3000 "$T/f3000.pcap"
"$D42PCAP" -r "$T/f3000.pcap" -output "$T/f3000.ref" 2>/dev/null
mkfifo "$T/slow.fifo"
# Bounded, and the agent started once the reader is (about to be) in its
# open(): an agent started first finds no reader, exits at once (its open
# does not wait), and the reader's blocking open() then waits for ever.
timeout 60 python3 -c 'import os, sys, time
open(sys.argv[3], "w").close()
fd = os.open(sys.argv[1], os.O_RDONLY)
time.sleep(2)
with open(sys.argv[2], "wb") as out:
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        out.write(b)' "$T/slow.fifo" "$T/slow.out" "$T/slow.ready" &
rpid=$!
i=0
while [ $i -lt 100 ] && [ ! -e "$T/slow.ready" ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
timeout -s KILL 30 "$D42PCAP" -r "$T/f3000.pcap" -output "$T/slow.fifo" 2>"$T/slow.err"
rc=$?
wait $rpid
if [ $rc -eq 0 ] && [ "$(wc -c <"$T/f3000.ref")" -gt 200000 ] && cmp -s "$T/slow.out" "$T/f3000.ref"; then
	ok output_fifo_slow_reader
else
	fail output_fifo_slow_reader "exit $rc, $(wc -c <"$T/slow.out") of $(wc -c <"$T/f3000.ref") bytes: $(tail -c 300 "$T/slow.err")"
fi
: >"$T/target"
ln -s "$T/target" "$T/link.json"
"$D42PCAP" -r "$DEMO" -output "$T/link.json" >/dev/null 2>"$T/link.err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$T/target" ] && grep -q "cannot open output $T/link.json" "$T/link.err"; then
	ok output_symlink_not_followed
else
	fail output_symlink_not_followed "exit $rc, target $(wc -c <"$T/target") bytes: $(tail -c 300 "$T/link.err")"
fi

if ! is_root; then
	skip output_after_user "needs root"
	skip output_follows_rename "needs root (a network namespace)"
	exit 0
fi

# ---- after -user, in a directory of root's (0700) ----
# The user may neither look into the directory nor rename in it: the file
# it was handed is emptied instead, said once per run, nothing else.
mkdir -m 0700 "$T/priv"
conf user.json 100
sed -i "s|\"logs-dir\": \"$T\"|\"logs-dir\": \"$T/ulogs\"|" "$T/user.json"
mkdir -p "$T/ulogs"
if twice "$T/priv" user.json -user nobody && [ "$(cat "$T/priv/r.json")" = "$(line 3)" ] &&
   [ "$(grep -c 'cannot rotate' "$T/ulogs/d42pcap.log")" -eq 2 ] &&
   ! grep -q 'cannot reopen' "$T/ulogs/d42pcap.log"; then
	ok output_after_user
else
	fail output_after_user "$(wc -c "$T/priv/r.json"; grep -E 'rotate|reopen|error' "$T/ulogs/d42pcap.log" | head -5)"
fi

# ---- live: the file is moved away between reports ----
NS=d42out$$
if ! lo_ns "$NS"; then
	skip output_follows_rename "cannot create a network namespace"
	exit 0
fi
cat >"$T/live.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$T"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
mkdir -p "$T/live"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T" -settings-name live.json \
	-output "$T/live/r.json" 2>"$T/live.err" &
pid=$!
if wait_for "$T/live/r.json" '"interval"' 50; then
	mv "$T/live/r.json" "$T/live/r.old"
	# the report under way when it moved may still go to the old file
	if wait_for "$T/live/r.json" '"interval"' 50; then
		m=$(wc -l <"$T/live/r.old")
		sleep 2.5
	fi
	if [ -n "${m:-}" ] && [ "$(wc -l <"$T/live/r.old")" -eq "$m" ] &&
	   [ "$(grep -c '"interval"' "$T/live/r.json")" -ge 2 ]; then
		ok output_follows_rename
	else
		fail output_follows_rename "$(ls -l "$T/live"; tail -c 300 "$T/live.err")"
	fi
else
	fail output_follows_rename "no first report: $(tail -c 300 "$T/live.err")"
fi
stop_agent $pid TERM output_live_exit
