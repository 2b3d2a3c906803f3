#!/bin/sh
# Privilege drop, as root, live in a network namespace of the test's own:
# with -user nobody the running process has nobody's uid, gid and groups
# (real, effective, saved, filesystem), only CAP_NET_RAW, no_new_privs, and
# still captures; with common.chroot it runs inside the spool directory and
# refuses to reload the settings. Misconfigurations exit with a message.
. "$(dirname "$0")/lib.sh"

if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip privs "needs root and iproute2 (ip netns)"
	exit 0
fi
if ! id nobody >/dev/null 2>&1; then
	skip privs "no user nobody"
	exit 0
fi
NS=d42priv$$
if ! lo_ns "$NS"; then
	fail privs "cannot create network namespace"
	exit 0
fi
UID_N=$(id -u nobody)
GID_N=$(id -g nobody)
GROUPS_N=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')
CAP_NET_RAW_MASK=0000000000002000	# 1 << 13
chmod 755 "$T_TMP"

# status_field PID NAME: the value of NAME: in /proc/PID/status, tabs as spaces
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' | sed 's/ *$//'
}
# records FILE PORT: packets_to_server summed over the reports for PORT
records() {
	python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    if line.strip():
        for r in json.loads(line)["communications"]:
            if r["port"] == int(sys.argv[2]):
                n += r["packets_to_server"]
print(n)
PY
}

# ---- -user nobody ----
LOGS=$T_TMP/logs
mkdir -p "$LOGS"
chown nobody "$LOGS"
cat >"$T_TMP/p.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$LOGS"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name p.json -user nobody \
	>"$T_TMP/out.json" 2>"$T_TMP/err.log" &
pid=$!
if ! wait_for "$LOGS/d42pcap.log" 'capturing on lo'; then
	fail privs_start "agent did not start: $(cat "$T_TMP/err.log" "$LOGS/d42pcap.log" 2>/dev/null)"
	kill $pid 2>/dev/null
	exit 0
fi
ok privs_start
grep -q "info: running as nobody (uid $UID_N, gid $GID_N, [0-9]* groups) with CAP_NET_RAW only" \
	"$LOGS/d42pcap.log" && ok privs_logged || fail privs_logged "$(cat "$LOGS/d42pcap.log")"

want="$UID_N $UID_N $UID_N $UID_N"
got=$(status_field $pid Uid)
[ "$got" = "$want" ] && ok privs_uid || fail privs_uid "Uid: \"$got\", want \"$want\""
want="$GID_N $GID_N $GID_N $GID_N"
got=$(status_field $pid Gid)
[ "$got" = "$want" ] && ok privs_gid || fail privs_gid "Gid: \"$got\", want \"$want\""
got=$(status_field $pid Groups | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')
[ "$got" = "$GROUPS_N" ] && ok privs_groups || fail privs_groups "Groups: \"$got\", want \"$GROUPS_N\""
caps="$(status_field $pid CapEff) $(status_field $pid CapPrm) $(status_field $pid CapInh) $(status_field $pid CapAmb)"
want="$CAP_NET_RAW_MASK $CAP_NET_RAW_MASK 0000000000000000 0000000000000000"
[ "$caps" = "$want" ] && ok privs_caps || fail privs_caps "CapEff/Prm/Inh/Amb \"$caps\", want \"$want\""
got=$(status_field $pid NoNewPrivs)
[ "$got" = 1 ] && ok privs_no_new_privs || fail privs_no_new_privs "NoNewPrivs: \"$got\""

# Still capturing after the drop.
ns_udp "$NS" 6001 4
sleep 0.3
# SIGHUP as nobody: the log (given to nobody) is reopened after a move.
mv "$LOGS/d42pcap.log" "$LOGS/moved.log"
kill -HUP $pid
if wait_for "$LOGS/d42pcap.log" 'SIGHUP: reloaded' &&
	[ "$(stat -c %U "$LOGS/d42pcap.log")" = nobody ]; then
	ok privs_hup_reopen
else
	fail privs_hup_reopen "$(ls -l "$LOGS"; cat "$LOGS/moved.log")"
fi
stop_agent $pid TERM
st=$?
[ $st -eq 0 ] && ok privs_exit || fail privs_exit "exit status $st"
n=$(records "$T_TMP/out.json" 6001)
[ "$n" = 4 ] && ok privs_capture || fail privs_capture "$n packets to port 6001 reported, want 4"

# SIGHUP as nobody with the password in a root-only password-file (as the
# docs advise): the reload cannot read it, but the password only counts at
# start-up: the rest of the file is still applied.
SP3=$T_TMP/spool-pw
printf 'secret\n' >"$T_TMP/pw" && chmod 600 "$T_TMP/pw"
pwconf() {
	cat >"$T_TMP/pw.json" <<JSON
{"common": {"Interval": $1, "logs-dir": "$LOGS", "spool-dir": "$SP3"},
 "device42": {"Host": "http://127.0.0.1:9", "User": "u", "password-file": "$T_TMP/pw"},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
}
pwconf 60
rm -f "$LOGS"/*
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name pw.json -user nobody \
	>/dev/null 2>"$T_TMP/pw.err" &
pid=$!
if wait_for "$LOGS/d42pcap.log" 'running as nobody'; then
	pwconf 30
	kill -HUP $pid
	if wait_for "$LOGS/d42pcap.log" 'SIGHUP: reloaded.*common.Interval' &&
		grep -q 'cannot read password-file .*a change of the password needs a restart' \
			"$LOGS/d42pcap.log" &&
		! grep -q 'keeping the current settings\|Password changed\|Password is empty' \
			"$LOGS/d42pcap.log"; then
		ok privs_hup_password_file_unreadable
	else
		fail privs_hup_password_file_unreadable "$(tail -4 "$LOGS/d42pcap.log")"
	fi
	stop_agent $pid TERM
else
	fail privs_hup_password_file_unreadable "agent did not start: $(cat "$T_TMP/pw.err")"
	kill $pid 2>/dev/null
fi

# SIGHUP keeps the command line's -i, -logs-dir and -user over the file's
# (a missing device, another log directory, an unknown user): none of them
# is changed, refused or warned about, and the rest of the file applies.
OV=$T_TMP/ovlogs
mkdir -p "$OV" "$T_TMP/filelogs60" "$T_TMP/filelogs30"
chown nobody "$OV"
ovconf() {
	cat >"$T_TMP/ov.json" <<JSON
{"common": {"Interval": $1, "logs-dir": "$T_TMP/filelogs$1", "user": "d42pcap-no-such-user$1"},
 "pcap": {"Device": "d42nosuch$1", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
}
ovconf 60
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name ov.json -i lo \
	-logs-dir "$OV" -user nobody >/dev/null 2>"$T_TMP/ov.err" &
pid=$!
if wait_for "$OV/d42pcap.log" 'running as nobody'; then
	ovconf 30
	kill -HUP $pid
	if wait_for "$OV/d42pcap.log" 'SIGHUP: reloaded' &&
		grep -q 'SIGHUP: reloaded .*ov\.json; applied: common\.Interval$' "$OV/d42pcap.log" &&
		! grep -q 'Device\|common\.user\|logs-dir\|keeping the current' "$OV/d42pcap.log" &&
		[ -z "$(find "$T_TMP/filelogs60" "$T_TMP/filelogs30" -type f)" ]; then
		ok privs_hup_keeps_overrides
	else
		fail privs_hup_keeps_overrides "$(tail -4 "$OV/d42pcap.log"; ls "$T_TMP"/filelogs*)"
	fi
	stop_agent $pid TERM
else
	fail privs_hup_keeps_overrides "agent did not start: $(cat "$T_TMP/ov.err")"
	kill $pid 2>/dev/null
fi

# The log in a directory only root may search (systemd's LogsDirectoryMode
# 0700): after the drop the agent cannot look its name up, so it cannot
# rotate; it empties the file it holds, and goes on logging there, instead
# of giving the log up for standard error.
RL=$T_TMP/rootlogs
mkdir -p "$RL" && chmod 700 "$RL"
cat >"$T_TMP/rl.json" <<JSON
{"common": {"Interval": 60, "log-max-bytes": 4096},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name rl.json -logs-dir "$RL" \
	-user nobody >/dev/null 2>"$T_TMP/rl.err" &
pid=$!
if wait_for "$RL/d42pcap.log" 'running as nobody'; then
	i=0
	while [ $i -lt 80 ]; do kill -USR1 $pid; sleep 0.02; i=$((i + 1)); done
	sleep 0.5
	kill -USR1 $pid
	sleep 0.3
	size=$(stat -c %s "$RL/d42pcap.log")
	if [ "$size" -le 4096 ] && tail -1 "$RL/d42pcap.log" | grep -q 'stats:' &&
		grep -q 'truncating it instead' "$T_TMP/rl.err" &&
		! grep -q 'logging to standard error' "$T_TMP/rl.err"; then
		ok privs_log_dir_unsearchable_truncates
	else
		fail privs_log_dir_unsearchable_truncates "size $size: $(tail -c 300 "$T_TMP/rl.err")"
	fi
	stop_agent $pid TERM
else
	fail privs_log_dir_unsearchable_truncates "agent did not start: $(cat "$T_TMP/rl.err")"
	kill $pid 2>/dev/null
fi

# ---- chroot to the spool directory ----
SPOOL=$T_TMP/spool
mkdir -p "$SPOOL"
cat >"$T_TMP/c.json" <<JSON
{"common": {"Interval": 1, "logs-dir": "$LOGS", "spool-dir": "$SPOOL",
            "user": "nobody", "chroot": true},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
JSON
rm -f "$LOGS"/*
# LeakSanitizer (make check-asan) needs /proc, which the chroot hides.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name c.json \
	>"$T_TMP/out2.json" 2>"$T_TMP/err2.log" &
pid=$!
if wait_for "$LOGS/d42pcap.log" 'capturing on lo'; then
	root=$(readlink "/proc/$pid/root")
	[ "$root" = "$SPOOL" ] && ok chroot_root || fail chroot_root "root is \"$root\", want $SPOOL"
	[ "$(status_field $pid Uid)" = "$UID_N $UID_N $UID_N $UID_N" ] && ok chroot_uid ||
		fail chroot_uid "Uid: $(status_field $pid Uid)"
	ns_udp "$NS" 6002 3
	sleep 0.3
	kill -HUP $pid
	wait_for "$LOGS/d42pcap.log" 'SIGHUP: the settings cannot be reloaded inside the chroot' &&
		ok chroot_hup || fail chroot_hup "$(tail -2 "$LOGS/d42pcap.log")"
	stop_agent $pid TERM
	st=$?
	[ $st -eq 0 ] && ok chroot_exit || fail chroot_exit "exit status $st"
	n=$(records "$T_TMP/out2.json" 6002)
	[ "$n" = 3 ] && ok chroot_capture || fail chroot_capture "$n packets to port 6002, want 3"
else
	fail chroot_start "$(cat "$T_TMP/err2.log" "$LOGS/d42pcap.log" 2>/dev/null)"
	kill $pid 2>/dev/null
fi

# ---- no root at all: an ordinary user and a file capability ----
if command -v setcap >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 &&
	cp "$D42PCAP" "$T_TMP/d42pcap-cap" && chmod 755 "$T_TMP/d42pcap-cap" &&
	setcap cap_net_raw+ep "$T_TMP/d42pcap-cap" 2>/dev/null; then
	cat >"$T_TMP/fc.json" <<JSON
{"common": {"Interval": 1},
 "pcap": {"Device": "lo", "promiscuous-mode": true, "sniff-timeout": "10ms"}}
JSON
	chmod 644 "$T_TMP/fc.json"
	ip netns exec "$NS" setpriv --reuid "$UID_N" --regid "$GID_N" --clear-groups \
		"$T_TMP/d42pcap-cap" -settings-dir "$T_TMP" -settings-name fc.json -user nobody \
		>"$T_TMP/out3.json" 2>"$T_TMP/err3.log" &
	pid=$!
	if wait_for "$T_TMP/err3.log" 'capturing on lo'; then
		[ "$(status_field $pid Uid)" = "$UID_N $UID_N $UID_N $UID_N" ] &&
			grep -q 'info: already running as nobody' "$T_TMP/err3.log" && ok filecap_user ||
			fail filecap_user "Uid $(status_field $pid Uid): $(cat "$T_TMP/err3.log")"
		ns_udp "$NS" 6003 2
		sleep 0.3
		stop_agent $pid TERM
		n=$(records "$T_TMP/out3.json" 6003)
		[ "$n" = 2 ] && ok filecap_capture || fail filecap_capture "$n packets to port 6003, want 2"
	else
		fail filecap_start "$(cat "$T_TMP/err3.log")"
		kill $pid 2>/dev/null
	fi
else
	skip filecap "no setcap/setpriv, or no file capabilities on $T_TMP"
fi

# ---- misconfigurations ----
cat >"$T_TMP/bad.json" <<JSON
{"common": {"chroot": true}, "pcap": {"Device": "lo"}}
JSON
ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name bad.json \
	>/dev/null 2>"$T_TMP/bad.err"
st=$?
[ $st -eq 2 ] && grep -q 'common.chroot needs a user' "$T_TMP/bad.err" && ok chroot_needs_user ||
	fail chroot_needs_user "exit $st: $(cat "$T_TMP/bad.err")"

ip netns exec "$NS" "$D42PCAP" -settings-dir "$T_TMP" -settings-name p.json \
	-user d42pcap-no-such-user >/dev/null 2>"$T_TMP/nouser.err"
st=$?
[ $st -eq 2 ] && grep -q -- '-user: unknown user "d42pcap-no-such-user"' \
	"$T_TMP/nouser.err" && ok privs_unknown_user ||
	fail privs_unknown_user "exit $st: $(cat "$T_TMP/nouser.err")"
# -check-config says it too, for common.user
printf '{"common": {"user": "d42pcap-no-such-user"}}\n' >"$T_TMP/nouser.json"
"$D42PCAP" -check-config -settings-dir "$T_TMP" -settings-name nouser.json \
	>/dev/null 2>"$T_TMP/nouser2.err"
st=$?
[ $st -eq 2 ] && grep -q 'common.user: unknown user "d42pcap-no-such-user"' \
	"$T_TMP/nouser2.err" && ok privs_unknown_user_check_config ||
	fail privs_unknown_user_check_config "exit $st: $(cat "$T_TMP/nouser2.err")"

# With an appliance: the spool, made by root at start-up, and what an
# earlier run as root left in it, are given to the user, who goes on
# writing reports there (the appliance is down: they wait).
SP2=$T_TMP/spool-user
cat >"$T_TMP/s.json" <<JSON
{"common": {"Interval": 60, "logs-dir": "$LOGS", "spool-dir": "$SP2"},
 "device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p", "timeout": 1}}
JSON
"$D42PCAP" -r "$TOP/tests/data/demo.pcapng" -settings-dir "$T_TMP" -settings-name s.json \
	>/dev/null 2>&1
st1=$?
rm -f "$LOGS"/*
"$D42PCAP" -r "$TOP/tests/data/demo.pcapng" -settings-dir "$T_TMP" -settings-name s.json \
	-user nobody >/dev/null 2>"$T_TMP/s.err"
st=$?
files=$(find "$SP2" -maxdepth 1 -name '*.d42' | wc -l)
others=$(find "$SP2" ! -user nobody | wc -l)
if [ $st1 -eq 3 ] && [ $st -eq 3 ] && [ "$files" -eq 6 ] && [ "$others" -eq 0 ] &&
   ! grep -q 'cannot\|aside' "$LOGS/d42pcap.log"; then
	ok privs_spool_given_to_user
else
	fail privs_spool_given_to_user "exit $st1/$st, $files reports, $others not nobody's: $(ls -la "$SP2"; cat "$LOGS/d42pcap.log" "$T_TMP/s.err" | tail -5)"
fi

# Offline: no capability kept.
rm -f "$LOGS"/*
"$D42PCAP" -r "$TOP/tests/data/demo.pcapng" -settings-dir "$T_TMP" -settings-name p.json \
	-user nobody >/dev/null 2>&1
st=$?
if [ $st -eq 0 ] && grep -q "running as nobody (uid $UID_N, gid $GID_N, [0-9]* groups)$" \
	"$LOGS/d42pcap.log"; then
	ok privs_offline
else
	fail privs_offline "exit $st: $(cat "$LOGS/d42pcap.log")"
fi
