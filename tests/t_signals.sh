#!/bin/sh
# Signals, live in a network namespace of the test's own (capturing on its
# loopback): SIGUSR1 writes statistics to the log; SIGHUP reloads the
# settings (a good file is applied: live-entries, Interval, ignore-ports;
# a broken one, or one start-up would refuse, is reported and the old
# settings stay) and reopens the log after it was moved; SIGTERM and SIGINT
# report and exit 0, also while -r reads a pipe or waits for a FIFO.
. "$(dirname "$0")/lib.sh"

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip signals "needs root and iproute2 (ip netns)"
	exit 0
fi
NS=d42sig$$
if ! lo_ns "$NS"; then
	fail signals "cannot create network namespace"
	exit 0
fi
LOGS=$T_TMP/logs
mkdir -p "$LOGS"
LOG=$LOGS/d42pcap.log

# settings FILE LIVE INTERVAL IGNORE-PORTS MAX-FLOWS
settings() {
	cat >"$1" <<JSON
{"common": {"Interval": $3, "logs-dir": "$LOGS", "max-flows": $5},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"},
 "capture": {"live-entries": $2, "ignore-ports": [$4]}}
JSON
}

# wait_for_new FILE LINES EXTENDED-REGEX [TENTHS]: wait_for, counting only
# the lines after the first LINES (taken before the signal): a file logged
# to all along may match the same pattern from an earlier stage already.
wait_for_new() {
	w=0
	while [ $w -lt "${4:-150}" ]; do
		tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -Eq -- "$3" && return 0
		sleep 0.1
		w=$((w + 1))
	done
	return 1
}

CONF=$T_TMP/sig.json
settings "$CONF" false 1 "" 1000
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name sig.json \
	>"$T_TMP/out.json" 2>"$T_TMP/err.log" &
pid=$!
if ! wait_for "$LOG" 'capturing on lo'; then
	fail signals_start "agent did not start: $(cat "$T_TMP/err.log" "$LOG" 2>/dev/null)"
	kill $pid 2>/dev/null
	exit 0
fi
ok signals_start

# SIGUSR1: one statistics line per signal
ns_udp "$NS" 5001 2
wait_for "$T_TMP/out.json" '"port":5001' 30 || fail usr1_traffic "no report of port 5001"
kill -USR1 $pid
if wait_for "$LOG" 'info: stats: interval packets=[0-9]+ bytes=[0-9]+ decoded=[0-9]+ flows=[0-9]+ listeners=[0-9]+ flow_drops=0 reports=[1-9]'; then
	ok usr1_stats
else
	fail usr1_stats "no stats line in the log: $(tail -3 "$LOG")"
fi

# Before the reload: live-entries is off.
if grep -q '^live: ' "$T_TMP/err.log"; then
	fail hup_before "live: lines with live-entries off"
else
	ok hup_before
fi

# SIGHUP with a good file: live-entries on, Interval 2, port 5003 ignored,
# and a table size that needs a restart.
settings "$CONF.new" true 2 5003 2000
mv "$CONF.new" "$CONF"
kill -HUP $pid
if wait_for "$LOG" 'SIGHUP: reloaded .*sig\.json; applied: '; then
	applied=$(grep -E 'SIGHUP: reloaded' "$LOG" | tail -1)
	case $applied in
	*"applied: capture.ignore-ports, common.Interval, capture.live-entries; some changes need a restart"*)
		ok hup_applied ;;
	*) fail hup_applied "$applied" ;;
	esac
else
	fail hup_applied "no reload message: $(tail -3 "$LOG")"
fi
grep -q 'warning: SIGHUP: common.max-flows changed; restart d42pcap to apply it' "$LOG" &&
	ok hup_restart_needed || fail hup_restart_needed "no restart warning for max-flows"
ns_udp "$NS" 5002 1
wait_for "$T_TMP/err.log" '^live: udp 127\.0\.0\.1 -> 127\.0\.0\.1:5002 ephemeral conns=0 pkts=1/0 ' &&
	ok hup_live_entries || fail hup_live_entries "no live: line for port 5002: $(cat "$T_TMP/err.log")"
ns_udp "$NS" 5003 1
ns_udp "$NS" 5004 1
wait_for "$T_TMP/err.log" '127\.0\.0\.1:5004 ' || fail hup_filter "no live: line for port 5004"
if grep -q '127\.0\.0\.1:5003 ' "$T_TMP/err.log"; then
	fail hup_filter "port 5003 was captured after ignore-ports was reloaded"
else
	ok hup_filter
fi
# Interval 2 from the next interval on: a whole 2 s report on an even second.
if wait_for "$T_TMP/out.json" '"seconds":2' 60; then
	ok hup_interval
else
	fail hup_interval "no 2 s interval after the reload: $(tail -2 "$T_TMP/out.json")"
fi

# SIGHUP raising Interval to 5 at a second ending in 0: the open 2 s
# interval ends at ...2, which is no multiple of 5; one shorter interval
# follows, then reports are back on multiples of 5 s (REPORT.md).
settings "$CONF.new" false 5 "" 2000
mv "$CONF.new" "$CONF"
n=0
while [ $(( $(date +%s) % 10 )) -ne 0 ] && [ $n -lt 120 ]; do sleep 0.1; n=$((n + 1)); done
kill -HUP $pid
lines=$(wc -l <"$T_TMP/out.json")
if wait_for "$T_TMP/out.json" '"seconds":5' 200; then
	starts=$(tail -n +$((lines + 1)) "$T_TMP/out.json" | grep '"seconds":5' | head -2 |
		sed 's/.*"start":"[^"]*:\([0-9][0-9]\)Z".*/\1/' | tr '\n' ' ')
	case $starts in
	[0-5][05]\ *) ok "hup_interval_raised_aligned (starts at :$starts)" ;;
	*) fail hup_interval_raised_aligned "5 s reports start at seconds $starts" ;;
	esac
else
	fail hup_interval_raised_aligned "no 5 s report: $(tail -2 "$T_TMP/out.json")"
fi

# SIGHUP to a list longer than pcap.kernel-filter-max: the kernel filter
# selects TCP/UDP only, and the agent drops port 5010 itself from then on.
LONG=$(python3 -c 'print(", ".join(map(str, [5010] + list(range(6100, 6120)))))')
settings "$CONF.new" true 2 "$LONG" 2000
mv "$CONF.new" "$CONF"
kill -HUP $pid
if wait_for "$LOG" 'longer than pcap.kernel-filter-max \(16 entries\) or than a capture filter holds: matched after decoding'; then
	ns_udp "$NS" 5010 1
	ns_udp "$NS" 5011 1
	ns_udp "$NS" 5003 1	# no longer ignored
	if wait_for "$T_TMP/err.log" '127\.0\.0\.1:5011 ' &&
		wait_for "$T_TMP/err.log" '127\.0\.0\.1:5003 ' &&
		! grep -q '127\.0\.0\.1:5010 ' "$T_TMP/err.log"; then
		ok hup_long_list
	else
		fail hup_long_list "$(grep '^live: ' "$T_TMP/err.log" | tail -5)"
	fi
else
	fail hup_long_list "no reload to the long list: $(tail -3 "$LOG")"
fi

# SIGHUP with a broken file: line:col in the log, old settings kept.
printf '{"common": {"Interval": 2,\n  "logs-dir": "%s"},\n "capture": {"live-entries": tru}}\n' \
	"$LOGS" >"$CONF"
kill -HUP $pid
want="SIGHUP: $CONF:3:33: syntax error"
if wait_for "$LOG" 'keeping the current settings'; then
	line=$(grep 'keeping the current settings' "$LOG" | tail -1)
	case $line in
	*"error: $want"*) ok hup_broken_reported ;;
	*) fail hup_broken_reported "expected \"$want\" in: $line" ;;
	esac
else
	fail hup_broken_reported "no error logged: $(tail -3 "$LOG")"
fi
ns_udp "$NS" 5005 1
if kill -0 $pid 2>/dev/null &&
	wait_for "$T_TMP/err.log" '^live: udp 127\.0\.0\.1 -> 127\.0\.0\.1:5005 '; then
	ok hup_broken_kept
else
	fail hup_broken_kept "agent stopped or lost its settings after a bad reload"
fi

# SIGHUP with a file that parses but that start-up refuses (no capture
# filter can ignore both TCP and UDP): none of it applies, live-entries
# (off in it) included. Before, all but the filter was applied.
printf '{"common": {"Interval": 2, "logs-dir": "%s"},\n "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms", "ignore-tcp": true, "ignore-udp": true},\n "capture": {"live-entries": false}}\n' \
	"$LOGS" >"$CONF"
kill -HUP $pid
if wait_for "$LOG" 'SIGHUP: .*ignore-udp both set'; then
	ns_udp "$NS" 5007 1
	if wait_for "$T_TMP/err.log" '^live: udp 127\.0\.0\.1 -> 127\.0\.0\.1:5007 '; then
		ok hup_refused_whole
	else
		fail hup_refused_whole "live-entries was switched off by a refused file"
	fi
else
	fail hup_refused_whole "no refusal logged: $(tail -3 "$LOG")"
fi

# SIGHUP with a file naming a user that does not exist, or a chroot with
# no user to switch to: start-up and -check-config refuse it (exit 2), so
# the reload must too, keeping live-entries (off in it). Before, the rest
# was applied and a restart recommended, which then failed.
n=0
for bad in '"user": "d42nosuchuser"' '"chroot": true'; do
	n=$((n + 1))
	printf '{"common": {"Interval": 2, "logs-dir": "%s", %s},\n "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"},\n "capture": {"live-entries": false}}\n' \
		"$LOGS" "$bad" >"$CONF"
	before=$(grep -c 'keeping the current settings' "$LOG")
	lines=$(wc -l <"$LOG")	# the first pass's refusal matches too
	kill -HUP $pid
	if wait_for_new "$LOG" "$lines" 'SIGHUP: .*(common.user|needs a user).*keeping the current settings' &&
	   [ "$(grep -c 'keeping the current settings' "$LOG")" -gt "$before" ]; then
		ns_udp "$NS" $((5010 + n)) 1
		if wait_for "$T_TMP/err.log" "^live: udp 127\\.0\\.0\\.1 -> 127\\.0\\.0\\.1:$((5010 + n)) "; then
			ok "hup_start_refusal_kept_$n"
		else
			fail "hup_start_refusal_kept_$n" "live-entries was switched off by a refused file ($bad)"
		fi
	else
		fail "hup_start_refusal_kept_$n" "no refusal logged for $bad: $(tail -3 "$LOG")"
	fi
done

# SIGHUP after logrotate moved the file: a new d42pcap.log appears.
mv "$LOG" "$LOG.1"
kill -HUP $pid
if wait_for "$LOG" 'SIGHUP: ' && grep -q 'capturing on lo' "$LOG.1" &&
	! grep -q 'capturing on lo' "$LOG"; then
	ok hup_reopen
else
	fail hup_reopen "no new log file after SIGHUP: $(ls -l "$LOGS")"
fi

stop_agent $pid TERM sigterm_exit
# The stop is logged with its sender (this shell: kill is a builtin), so a
# run that ends early tells a signal from a delivery that gave up.
grep -q "info: stopping on SIGTERM from pid $$\$" "$LOG" && ok sigterm_logged ||
	fail sigterm_logged "no stop line naming pid $$: $(tail -3 "$LOG")"
tail -1 "$T_TMP/out.json" | grep -q '"interval":' && ok sigterm_report ||
	fail sigterm_report "no final report"

# SIGINT: same as SIGTERM.
settings "$CONF" false 60 "" 1000
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name sig.json \
	>"$T_TMP/out2.json" 2>"$T_TMP/err2.log" &
pid=$!
if wait_for "$LOG" 'capturing on lo.*interval 60s'; then
	ns_udp "$NS" 5006 1
	sleep 0.3
	stop_agent $pid INT sigint_exit
	grep -q '"port":5006' "$T_TMP/out2.json" && ok sigint_report ||
		fail sigint_report "the partial interval was not reported"
else
	fail sigint_exit "agent did not start"
	kill $pid 2>/dev/null
fi

# SIGTERM with packets already handed over by the kernel but not read yet
# (the agent held with SIGSTOP while they came, as a busy one would be):
# they are the last interval's, reported (until 2026-11-29 the loop left
# for the report before reading them).
settings "$CONF" false 60 "" 1000
: >"$LOG"	# it holds the SIGINT run's "capturing on lo ... interval 60s"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name sig.json \
	>"$T_TMP/out5.json" 2>"$T_TMP/err5.log" &
pid=$!
if wait_for "$LOG" 'capturing on lo.*interval 60s'; then
	sleep 0.3
	kill -STOP $pid
	ns_udp "$NS" 5020 7
	sleep 1	# 100 sniff-timeouts: the kernel has handed them over
	kill -TERM $pid
	kill -CONT $pid
	stop_agent $pid TERM
	grep -q '"port":5020' "$T_TMP/out5.json" && ok sigterm_reads_ring ||
		fail sigterm_reads_ring "packets waiting at the stop not reported: $(tail -c 300 "$T_TMP/out5.json")"
else
	fail sigterm_reads_ring "agent did not start"
	kill $pid 2>/dev/null
fi

# SIGHUP and SIGUSR1 while the agent is still starting up (here: a long
# ignore-ports list compiled into the kernel filter takes a few seconds)
# are taken once it runs, not fatal: reloads and logrotate can come at any
# time. Read from a file, so no namespace is needed.
PORTS=$(python3 -c 'print(",".join(str(p) for p in range(1000, 1150)))')
printf '{"common": {"Interval": 60, "logs-dir": "%s"}, "capture": {"ignore-ports": [%s]},
 "pcap": {"kernel-filter-max": 2560}}\n' "$LOGS" "$PORTS" >"$T_TMP/slow.json"
rm -f "$LOG"
"$D42PCAP" -r "$TOP/tests/data/demo.pcapng" -settings-dir "$T_TMP" -settings-name slow.json \
	>"$T_TMP/out3.json" 2>"$T_TMP/err3.log" &
pid=$!
# Once its handlers are in (SigCgt has SIGHUP, bit 0): a fixed sleep could
# signal the forked shell before it exec'd the agent, killing it.
w=0
until [ $w -ge 100 ] || [ $(( 0x$(awk '/^SigCgt:/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0) & 1 )) -eq 1 ]; do
	sleep 0.05
	w=$((w + 1))
done
early=yes
grep -q 'capturing on' "$LOG" 2>/dev/null && early="no (test defect: started within 0.5 s)"
kill -HUP $pid 2>/dev/null
kill -USR1 $pid 2>/dev/null
wait $pid
st=$?
if [ $st -eq 0 ] && [ "$early" = yes ] && grep -q 'SIGHUP: ' "$LOG" && grep -q 'stats: ' "$LOG" &&
   [ "$(wc -l <"$T_TMP/out3.json")" -eq 3 ]; then
	ok signals_during_startup
else
	fail signals_during_startup "exit $st, sent during start-up: $early: $(tail -3 "$LOG" 2>/dev/null) $(head -c 300 "$T_TMP/err3.log")"
fi

# Started with SIGTERM and SIGHUP blocked (the signal mask is inherited: a
# careless parent): they are unblocked, so SIGTERM still stops the agent.
printf '{"common": {"Interval": 60, "logs-dir": "%s"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}\n' "$LOGS" \
	>"$T_TMP/blocked.json"
rm -f "$LOG"
st=$(ip netns exec "$NS" python3 -c '
import signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: signal.pthread_sigmask(
                         signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP}))
log = sys.argv[sys.argv.index("-logs-dir") + 1] + "/d42pcap.log"
for _ in range(100):
    try:
        if "capturing on" in open(log).read():
            break
    except OSError:
        pass
    time.sleep(0.1)
p.terminate()
try:
    print(p.wait(10))
except subprocess.TimeoutExpired:
    p.kill()
    print("still running 10 s after SIGTERM")' "$D42PCAP" -settings-dir "$T_TMP" \
	-settings-name blocked.json -logs-dir "$LOGS")
[ "$st" = 0 ] && ok signals_unblocked || fail signals_unblocked "$st"

# Started with standard input and output closed (a careless supervisor):
# the signal pipe must not take descriptors 0 and 1, where the reports go.
: >"$LOG"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name sig.json \
	<&- >&- 2>"$T_TMP/closed.err" &
pid=$!
if wait_for "$LOG" 'capturing on lo'; then
	fd0=$(readlink "/proc/$pid/fd/0") fd1=$(readlink "/proc/$pid/fd/1")
	if [ "$fd0" = /dev/null ] && [ "$fd1" = /dev/null ]; then
		ok signals_closed_stdio
	else
		fail signals_closed_stdio "descriptor 0: $fd0, 1: $fd1"
	fi
	stop_agent $pid TERM signals_closed_stdio_exit
else
	fail signals_closed_stdio "agent did not start: $(cat "$T_TMP/closed.err")"
	kill $pid 2>/dev/null
fi

# SIGHUP moving logs-dir into the spool (here the default one, beside the
# settings file, in use with an appliance): the spool would move the log
# aside as a file it did not write. Refused; the log stays where it was.
SP=$T_TMP/sp
mkdir -p "$SP/logs"
spool_conf() {
	printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p"},
 "common": {"Interval": 60, "logs-dir": "%s"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}\n' "$1" \
		>"$SP/a.json"
	chmod 600 "$SP/a.json"
}
spool_conf "$SP/logs"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$SP" -settings-name a.json \
	>/dev/null 2>"$SP/err" &
pid=$!
if wait_for "$SP/logs/d42pcap.log" 'capturing on lo'; then
	spool_conf "$SP/./spool/"
	kill -HUP $pid
	if wait_for "$SP/logs/d42pcap.log" 'is the spool directory' &&
		[ ! -e "$SP/spool/d42pcap.log" ]; then
		ok hup_logs_dir_into_spool_refused
	else
		fail hup_logs_dir_into_spool_refused "$(tail -2 "$SP/logs/d42pcap.log"; ls "$SP/spool")"
	fi
	stop_agent $pid TERM
else
	fail hup_logs_dir_into_spool_refused "agent did not start: $(cat "$SP/err")"
	kill $pid 2>/dev/null
fi

# The log directory: a SIGHUP naming another directory that cannot be
# opened leaves the one waited for (until 2026-11-27 the refused one was
# waited for instead, and the log appeared there); a directory removed
# while running is found again by name at the next SIGHUP, or waited for
# until it is back (before, the log went on into the deleted file).
LD=$T_TMP/ld
mkdir -p "$LD"
ld_conf() {
	printf '{"common": {"Interval": 60, "logs-dir": "%s"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}\n' "$1" \
		>"$LD/l.json"
}
ld_conf "$LD/L1"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$LD" -settings-name l.json \
	>/dev/null 2>"$LD/err" &
pid=$!
if wait_for "$LD/err" 'capturing on lo'; then
	ld_conf "$LD/L2"
	kill -HUP $pid
	wait_for "$LD/err" 'cannot open the log in .*/L2; keeping the current one' ||
		fail hup_logs_dir_refused_not_waited "no refusal: $(tail -2 "$LD/err")"
	mkdir "$LD/L1" "$LD/L2"
	sleep 4		# LOG_RETRY_SEC 3
	kill -USR1 $pid
	if wait_for "$LD/L1/d42pcap.log" 'info: stats: ' && [ ! -e "$LD/L2/d42pcap.log" ]; then
		ok hup_logs_dir_refused_not_waited
	else
		fail hup_logs_dir_refused_not_waited "$(ls -l "$LD/L1" "$LD/L2"; tail -3 "$LD/err")"
	fi
	# removed and made again, then SIGHUP: the new directory gets the log
	ld_conf "$LD/L1"
	rm -rf "$LD/L1"
	mkdir "$LD/L1"
	kill -HUP $pid
	wait_for "$LD/L1/d42pcap.log" 'SIGHUP: reloaded' &&
		ok hup_logs_dir_removed_made_again ||
		fail hup_logs_dir_removed_made_again "$(ls -l "$LD/L1"; tail -3 "$LD/err")"
	# removed, SIGHUP before it is back: stderr meanwhile, then the file
	rm -rf "$LD/L1"
	lines=$(wc -l <"$LD/err")	# the first reload was logged here too
	kill -HUP $pid
	wait_for_new "$LD/err" "$lines" 'SIGHUP: reloaded'
	kill -USR1 $pid
	wait_for "$LD/err" 'info: stats: ' ||
		fail hup_logs_dir_removed_waited "stats not on stderr: $(tail -3 "$LD/err")"
	mkdir "$LD/L1"
	sleep 4
	kill -USR1 $pid
	wait_for "$LD/L1/d42pcap.log" 'info: stats: ' &&
		ok hup_logs_dir_removed_waited ||
		fail hup_logs_dir_removed_waited "$(ls -l "$LD/L1"; tail -3 "$LD/err")"
	stop_agent $pid TERM
else
	fail hup_logs_dir "agent did not start: $(cat "$LD/err")"
	kill $pid 2>/dev/null
fi

# SIGTERM while -r reads a pipe (tcpdump -w - | d42pcap -r -) interrupts the
# blocked read: a clean stop (report written, exit 0), not a read error;
# and while it waits in open() for a FIFO's writer, the same.
PF=$T_TMP/pipe
mkdir -p "$PF"
mkfifo -m 600 "$PF/in" "$PF/nowriter"
"$D42PCAP" -r - <"$PF/in" >"$PF/out.json" 2>"$PF/err" &
pid=$!
exec 7>"$PF/in"
cat "$TOP/tests/data/demo.pcapng" >&7
sleep 1
stop_agent $pid TERM
st=$?
exec 7>&-
if [ "$st" = 0 ] && ! grep -q 'error' "$PF/err" && grep -q '"interval":' "$PF/out.json"; then
	ok sigterm_pipe_read
else
	fail sigterm_pipe_read "exit $st: $(tail -2 "$PF/err")"
fi
"$D42PCAP" -r "$PF/nowriter" >/dev/null 2>"$PF/err2" &
pid=$!
sleep 0.5
stop_agent $pid INT
st=$?
if [ "$st" = 0 ] && ! grep -q 'error' "$PF/err2"; then
	ok sigint_fifo_open
else
	fail sigint_fifo_open "exit $st: $(tail -2 "$PF/err2")"
fi
