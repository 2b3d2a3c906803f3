#!/bin/sh
# Service scripts and OpenWrt packaging:
#  - init/d42pcap.init under busybox sh with nothing but busybox applets on
#    PATH: start, status, start twice, reload, stop (final report written),
#    restart (not with settings start would refuse: the agent stays), a
#    stale pid file naming another process, a failing start, a
#    pid file or lock that cannot be written (no agent left, no hang), a
#    restart after DAEMON or SETTINGS_DIR changed (the old agent stopped),
#    SIGHUP and SIGUSR1 ignored until the agent's handlers are in. The
#    agent captures on lo in a network namespace of its own (root only).
#  - init/d42pcap.procd: syntax, start_service's procd parameters, and no
#    instance (no respawning) for settings -check-config refuses.
#  - cross/openwrt/d42pcap/Makefile: evaluated against a stub OpenWrt
#    (rules.mk, package.mk): fields, conffiles, prepare, compile command,
#    installed files and modes; its default settings are valid.
. "$(dirname "$0")/lib.sh"

umask 022
BB=$(command -v busybox 2>/dev/null)
VERSION=$(sed -n 's/^VERSION *:= *//p' "$TOP/Makefile")

# ---------------------------------------------------------------- procd
if [ -n "$BB" ]; then
	"$BB" sh -n "$TOP/init/d42pcap.procd" && "$BB" sh -n "$TOP/init/d42pcap.init" &&
		ok initscript_syntax_busybox || fail initscript_syntax_busybox "busybox sh -n failed"
fi
sh -n "$TOP/init/d42pcap.procd" && sh -n "$TOP/init/d42pcap.init" &&
	ok initscript_syntax_sh || fail initscript_syntax_sh "sh -n failed"

# rc.common sources the script and calls start_service: do the same with
# procd's helpers and logger recording their arguments, the built agent as
# PROG and the package's settings.
SH=${BB:+$BB sh}
procd_start() {	# SETTINGS_DIR -> $T_TMP/procd.out
	${SH:-sh} -c '
		procd_open_instance() { echo open; }
		procd_set_param() { echo "$*"; }
		procd_close_instance() { echo close; }
		logger() { echo "logger $*"; }
		. "$1" || exit 1
		echo "PROG=$PROG SETTINGS_DIR=$SETTINGS_DIR"
		PROG=$2 SETTINGS_DIR=$3
		start_service; echo "start_service: $?"
		echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"
	' sh "$TOP/init/d42pcap.procd" "$D42PCAP" "$1" >"$T_TMP/procd.out" 2>&1
}
procd_start "$TOP/cross/openwrt/d42pcap/files"
cat >"$T_TMP/procd.want" <<EOF
PROG=/usr/sbin/d42pcap SETTINGS_DIR=/etc/d42pcap
open
command $D42PCAP -settings-dir $TOP/cross/openwrt/d42pcap/files
respawn 3600 5 0
stderr 1
file $TOP/cross/openwrt/d42pcap/files/d42pcap.json
close
start_service: 0
START=95 STOP=10 USE_PROCD=1
EOF
diff "$T_TMP/procd.want" "$T_TMP/procd.out" >"$T_TMP/diff" && ok procd_start_service ||
	fail procd_start_service "$(tr '\n' ' ' <"$T_TMP/diff")"
# Bad settings (exit 2): no instance, so procd does not respawn it every
# 5 s for ever; the error reaches the console and the system log.
mkdir -p "$T_TMP/procd-bad"
printf '{"common": {"Interval": 0}}\n' >"$T_TMP/procd-bad/d42pcap.json"
procd_start "$T_TMP/procd-bad"
if ! grep -q '^open' "$T_TMP/procd.out" && grep -q '^start_service: 1$' "$T_TMP/procd.out" &&
	grep -q '^d42pcap: not started: .*Interval' "$T_TMP/procd.out" &&
	grep -q '^logger -t d42pcap -p daemon.err not started: .*Interval' "$T_TMP/procd.out"; then
	ok procd_bad_settings_not_respawned
else
	fail procd_bad_settings_not_respawned "$(tr '\n' ' ' <"$T_TMP/procd.out" | head -c 600)"
fi
# reload: rc.common calls reload_service, which must not hand procd an
# empty instance list (that stops the running agent) for broken settings,
# and must start (procd compares the file's checksum) for good ones.
procd_reload() {	# SETTINGS_DIR -> $T_TMP/procd.out
	${SH:-sh} -c '
		procd_open_instance() { echo open; }
		procd_set_param() { :; }
		procd_close_instance() { echo close; }
		logger() { echo "logger $*"; }
		start() { echo start; start_service; }
		. "$1" || exit 1
		PROG=$2 SETTINGS_DIR=$3
		reload_service; echo "reload_service: $?"
	' sh "$TOP/init/d42pcap.procd" "$D42PCAP" "$1" >"$T_TMP/procd.out" 2>&1
}
procd_reload "$T_TMP/procd-bad"
if ! grep -q '^start$' "$T_TMP/procd.out" && grep -q '^reload_service: 1$' "$T_TMP/procd.out" &&
	grep -q '^d42pcap: not reloaded, still running .*Interval' "$T_TMP/procd.out"; then
	ok procd_reload_bad_settings_keeps_agent
else
	fail procd_reload_bad_settings_keeps_agent "$(tr '\n' ' ' <"$T_TMP/procd.out" | head -c 600)"
fi
procd_reload "$TOP/cross/openwrt/d42pcap/files"
[ "$(tr '\n' ' ' <"$T_TMP/procd.out")" = "start open close reload_service: 0 " ] &&
	ok procd_reload_good_settings_starts ||
	fail procd_reload_good_settings_starts "$(tr '\n' ' ' <"$T_TMP/procd.out" | head -c 600)"

# ---------------------------------------------------------------- OpenWrt
PKGDIR=$TOP/cross/openwrt/d42pcap
OW=$T_TMP/openwrt
mkdir -p "$OW/include" "$OW/ipkg"
# Just enough of OpenWrt's rules.mk and package.mk for the package Makefile:
# the same variables and the BuildPackage entry point, with targets that
# run its Build/Prepare, Build/Compile and Package/install.
cat >"$OW/rules.mk" <<'EOF'
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
TARGET_CONFIGURE_OPTS:=CC="stub-linux-musl-gcc" AR="stub-linux-musl-ar"
TARGET_CFLAGS:=-Os -pipe
TARGET_CPPFLAGS:=-I/stub/include
TARGET_LDFLAGS:=-L/stub/lib
EOF
cat >"$OW/include/package.mk" <<'EOF'
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
define BuildPackage
$$(eval $$(Package/$(1)))
$$(foreach f,SECTION CATEGORY TITLE,$$(if $$($$(f)),,$$(error Package/$(1) lacks $$(f))))
fields:
	@echo 'PKG=$(1) VERSION=$$(PKG_VERSION) SECTION=$$(SECTION) CATEGORY=$$(CATEGORY) DEPENDS=$$(DEPENDS) LICENSE=$$(PKG_LICENSE)'
	@echo 'CONFFILES=$$(strip $$(Package/$(1)/conffiles))'
	@echo 'SRC=$$(D42PCAP_SRC)'
	@echo 'BUILD=$$(PKG_BUILD_DIR)'
prepare:
	$$(Build/Prepare)
compile:
	$$(Build/Compile)
install:
	$$(call Package/$(1)/install,$$(IPKG_ROOT))
endef
EOF
owmake() { make -s --no-print-directory -C "$PKGDIR" TOPDIR="$OW" IPKG_ROOT="$OW/ipkg" "$@"; }
cat >"$T_TMP/fields.want" <<EOF
PKG=d42pcap VERSION=$VERSION SECTION=net CATEGORY=Network DEPENDS=+libpcap +libmbedtls LICENSE=BSD-2-Clause
CONFFILES=/etc/d42pcap/d42pcap.json
SRC=$(cd "$TOP" && pwd -P)
BUILD=$OW/build_dir/d42pcap-$VERSION
EOF
if owmake fields >"$T_TMP/fields" 2>&1; then
	diff "$T_TMP/fields.want" "$T_TMP/fields" >"$T_TMP/diff" && ok openwrt_fields ||
		fail openwrt_fields "$(tr '\n' ' ' <"$T_TMP/diff")"
else
	fail openwrt_fields "$(head -c 600 "$T_TMP/fields")"
fi
# As a feed: feeds.conf's src-link makes feeds/NAME a symlink to
# cross/openwrt; the sources must still be found from there.
mkdir -p "$OW/feeds"
ln -s "$TOP/cross/openwrt" "$OW/feeds/d42pcap"
make -s --no-print-directory -C "$OW/feeds/d42pcap/d42pcap" TOPDIR="$OW" fields >"$T_TMP/fields" 2>&1
diff "$T_TMP/fields.want" "$T_TMP/fields" >"$T_TMP/diff" && ok openwrt_feed_symlink ||
	fail openwrt_feed_symlink "$(tr '\n' ' ' <"$T_TMP/diff")"
B=$OW/build_dir/d42pcap-$VERSION
# Prepare copies the sources; the copied tree's Makefile must still know
# how to build every source file (dry run: no CPU spent here).
if owmake prepare >"$T_TMP/prep" 2>&1 &&
	make -n -C "$B" CC=stub-cc d42pcap >"$T_TMP/dry" 2>&1; then
	n_src=$(ls "$TOP"/src/*.c | wc -l)
	n_cc=$(grep -c '^stub-cc .* -c -o build/native/obj/.*\.o src/.*\.c$' "$T_TMP/dry")
	if [ "$n_src" -eq "$n_cc" ] && grep -q -- '-o build/native/d42pcap .* -lpcap -lmbedtls -lmbedx509 -lmbedcrypto' "$T_TMP/dry"; then
		ok openwrt_prepare
	else
		fail openwrt_prepare "$n_cc of $n_src sources compiled or link line missing: $(tail -c 400 "$T_TMP/dry")"
	fi
else
	fail openwrt_prepare "$(head -c 600 "$T_TMP/prep") $(head -c 300 "$T_TMP/dry")"
fi
# Compile: the top Makefile's d42pcap target with OpenWrt's tools and flags.
owmake -n compile >"$T_TMP/compile" 2>&1
if grep -q -- "-C $B CC=\"stub-linux-musl-gcc\" AR=\"stub-linux-musl-ar\" CFLAGS=\"-Os -pipe\" CPPFLAGS=\"-I/stub/include\" LDFLAGS=\"-L/stub/lib\" d42pcap\$" "$T_TMP/compile"; then
	ok openwrt_compile_command
else
	fail openwrt_compile_command "$(head -c 600 "$T_TMP/compile")"
fi
# Install, with the natively built agent standing in for the cross-built one.
if [ -x "$D42PCAP" ] && cp "$D42PCAP" "$B/d42pcap" && owmake install >"$T_TMP/inst" 2>&1; then
	(cd "$OW/ipkg" && find . -mindepth 1 -printf '%m %y %P\n' | LC_ALL=C sort -k3) >"$T_TMP/got"
	cat >"$T_TMP/want" <<'EOF'
755 d etc
755 d etc/d42pcap
600 f etc/d42pcap/d42pcap.json
755 d etc/init.d
755 f etc/init.d/d42pcap
755 d usr
755 d usr/sbin
755 f usr/sbin/d42pcap
EOF
	if diff "$T_TMP/want" "$T_TMP/got" >"$T_TMP/diff" &&
		cmp -s "$OW/ipkg/etc/init.d/d42pcap" "$TOP/init/d42pcap.procd" &&
		cmp -s "$OW/ipkg/etc/d42pcap/d42pcap.json" "$PKGDIR/files/d42pcap.json"; then
		ok openwrt_install
	else
		fail openwrt_install "$(tr '\n' ' ' <"$T_TMP/diff")"
	fi
else
	fail openwrt_install "$(head -c 600 "$T_TMP/inst")"
fi
# The package's settings: valid, no unknown keys (no warning), and every
# key spelled as -check-config prints it.
if "$D42PCAP" -check-config -settings-dir "$PKGDIR/files" >"$T_TMP/cc" 2>"$T_TMP/cc.err" &&
	[ ! -s "$T_TMP/cc.err" ] &&
	python3 - "$T_TMP/cc" "$PKGDIR/files/d42pcap.json" >"$T_TMP/cc.err" 2>&1 <<'PY'
import json, sys
eff, pkg = (json.load(open(f)) for f in sys.argv[1:3])
unknown = [(s, k) for s in pkg for k in pkg[s] if k not in eff.get(s, {})]
sys.exit("keys not in -check-config: %s" % unknown if unknown else 0)
PY
then
	ok openwrt_settings
else
	fail openwrt_settings "$(head -c 600 "$T_TMP/cc.err")"
fi

# ---------------------------------------------------------------- busybox
if [ -z "$BB" ]; then
	skip initscript_busybox "no busybox (Debian: busybox-static)"
	exit 0
fi
if ! is_root || ! command -v ip >/dev/null 2>&1; then
	skip initscript_busybox "needs root and iproute2 (ip netns)"
	exit 0
fi
if [ ! -x "$D42PCAP" ]; then
	skip initscript_busybox "no $D42PCAP: run make first"
	exit 0
fi

NS=d42init$$
SD=$T_TMP/settings LD=$T_TMP/logs PF=$T_TMP/run/d42pcap.pid
BIN=$T_TMP/bin
stray=
cleanup() {
	for p in $(ip netns pids "$NS" 2>/dev/null) $stray; do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT
ip netns add "$NS" || { fail initscript_netns "cannot create network namespace"; exit 0; }
ip -n "$NS" link set lo up

# Only busybox on PATH: the script must make do with its applets.
mkdir -p "$BIN" "$SD"
for a in cat kill mkdir rm sleep tail tr; do ln -s "$BB" "$BIN/$a"; done
# A long interval: the one report is the final one, written on SIGTERM.
cat >"$SD/d42pcap.json" <<'EOF'
{"common": {"Interval": 3600},
 "pcap": {"Device": "lo", "promiscuous-mode": false, "sniff-timeout": "10ms"}}
EOF

# initd ACTION [PIDFILE]: run the script; output in $out, exit status in $rc.
initd() {
	timeout 60 ip netns exec "$NS" env -i PATH="$BIN" DEFAULTS=/dev/null \
		DAEMON="${INIT_DAEMON:-$D42PCAP}" SETTINGS_DIR="${INIT_SD:-$SD}" LOGS_DIR="$LD" \
		PIDFILE="${2:-$PF}" STOP_WAIT=10 \
		"$BB" sh "$TOP/init/d42pcap.init" "$1" >"$T_TMP/init.out" 2>&1
	rc=$?
	out=$(cat "$T_TMP/init.out")
}
# expect NAME STATUS OUTPUT: the last initd gave exactly these.
expect() {
	if [ "$rc" -eq "$2" ] && [ "$out" = "$3" ]; then ok "$1"; else
		fail "$1" "status $rc (want $2), output \"$out\" (want \"$3\")"; fi
}
# gone PID: no such process, or only a zombie left for its parent to reap.
gone() { [ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# Agents started from $D42PCAP in the namespace, as a count.
agents() {
	n=0
	for p in $(ip netns pids "$NS"); do
		gone "$p" || ! grep -q "^$D42PCAP" "/proc/$p/cmdline" 2>/dev/null || n=$((n + 1))
	done
	echo $n
}
pidfile() { cat "$PF" 2>/dev/null; }

initd status
expect initscript_status_before 3 "d42pcap is stopped"

initd start
pid=$(pidfile)
expect initscript_start 0 "d42pcap started (pid $pid)"
if [ -n "$pid" ] && ! gone "$pid" && grep -q "^$D42PCAP" "/proc/$pid/cmdline" &&
	[ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$NS" readlink /proc/self/ns/net)" ]; then
	ok initscript_pid_is_agent
else
	fail initscript_pid_is_agent "pid file \"$pid\" does not name a live d42pcap in $NS"
fi
i=0
while [ $i -lt 300 ] && ! grep -q 'capturing on lo' "$LD/d42pcap.log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
grep -q 'capturing on lo' "$LD/d42pcap.log" 2>/dev/null && ok initscript_capturing ||
	fail initscript_capturing "no 'capturing on lo' in $LD/d42pcap.log: $(cat "$LD"/* 2>/dev/null | head -c 400)"

initd status
expect initscript_status_running 0 "d42pcap is running (pid $pid)"

initd start
expect initscript_start_twice 0 "d42pcap is already running (pid $pid)"
[ "$(agents)" -eq 1 ] && [ "$(pidfile)" = "$pid" ] && ok initscript_single_instance ||
	fail initscript_single_instance "$(agents) agents running, pid file $(pidfile) (was $pid)"

initd reload
expect initscript_reload 0 "d42pcap reloaded (pid $pid)"
[ "$(pidfile)" = "$pid" ] && ! gone "$pid" && ok initscript_reload_keeps_running ||
	fail initscript_reload_keeps_running "pid $pid gone after SIGHUP"

# Traffic for the final report: three UDP datagrams to 127.0.0.1:5353.
ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"x", ("127.0.0.1", 5353)); time.sleep(0.05)
'
sleep 0.5
initd stop
expect initscript_stop 0 "d42pcap stopped"
gone "$pid" && [ ! -e "$PF" ] && ok initscript_stopped_gone ||
	fail initscript_stopped_gone "pid $pid still running or pid file left"
python3 - "$LD/reports.json" <<'PY' && ok initscript_final_report || fail initscript_final_report "see the log"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(docs) == 1, "%d reports, want the one final report" % len(docs)
recs = [(r["client"], r["server"], r["port"], r["protocol"], r["packets_to_server"])
        for r in docs[0]["communications"]]
assert recs == [("127.0.0.1", "127.0.0.1", 5353, "udp", 3)], recs
assert docs[0]["agent"]["interface"] == "lo", docs[0]["agent"]
PY

initd status
expect initscript_status_stopped 3 "d42pcap is stopped"
initd stop
expect initscript_stop_stopped 0 "d42pcap is not running"
initd reload
expect initscript_reload_stopped 7 "d42pcap is not running"

initd restart
pid1=$(pidfile)
expect initscript_restart_stopped 0 "d42pcap is not running
d42pcap started (pid $pid1)"
initd restart
pid2=$(pidfile)
expect initscript_restart_running 0 "d42pcap stopped
d42pcap started (pid $pid2)"
[ "$pid1" != "$pid2" ] && gone "$pid1" && ! gone "$pid2" && [ "$(agents)" -eq 1 ] &&
	ok initscript_restart_replaces || fail initscript_restart_replaces "pids $pid1 -> $pid2, $(agents) agents"
initd stop
expect initscript_stop_after_restart 0 "d42pcap stopped"
[ "$(agents)" -eq 0 ] && ok initscript_none_left || fail initscript_none_left "$(agents) agents left"

# Two starts at once (a boot script and an operator): one agent, which
# the pid file names and stop ends; the lock is gone afterwards.
for k in 1 2; do
	timeout 60 ip netns exec "$NS" env -i PATH="$BIN" DEFAULTS=/dev/null \
		DAEMON="$D42PCAP" SETTINGS_DIR="$SD" LOGS_DIR="$LD" PIDFILE="$PF" STOP_WAIT=10 \
		"$BB" sh "$TOP/init/d42pcap.init" start >"$T_TMP/init$k.out" 2>&1 &
done
wait
n2=$(agents)
pid=$(pidfile)
initd stop
[ "$n2" -eq 1 ] && [ "$(agents)" -eq 0 ] && [ ! -e "${PF%.pid}.lock" ] &&
	grep -q "already running (pid $pid)" "$T_TMP/init1.out" "$T_TMP/init2.out" &&
	ok initscript_concurrent_starts_one_agent ||
	fail initscript_concurrent_starts_one_agent "$n2 agents, $(agents) after stop: $(cat "$T_TMP/init1.out" "$T_TMP/init2.out")"

# A stale pid file naming another live process: not ours, never signalled.
sleep 30 &
stray=$!
echo "$stray" >"$PF"
initd status
expect initscript_stale_status 1 "d42pcap is stopped (stale pid file $PF)"
initd stop
expect initscript_stale_stop 0 "d42pcap is not running"
! gone "$stray" && [ ! -e "$PF" ] && ok initscript_stale_untouched ||
	fail initscript_stale_untouched "the other process was killed or the pid file kept"
echo "$stray" >"$PF"
initd start
pid=$(pidfile)
expect initscript_stale_start 0 "d42pcap started (pid $pid)"
initd stop
kill "$stray" 2>/dev/null
stray=

# A stale pid file naming another d42pcap (another settings directory):
# not this script's, never signalled.
SD2=$T_TMP/other
mkdir -p "$SD2"
cp "$SD/d42pcap.json" "$SD2/"
ip netns exec "$NS" "$D42PCAP" -settings-dir "$SD2" -logs-dir "$SD2" >/dev/null 2>&1 &
other=$!
sleep 0.3
echo "$other" >"$PF"
initd status
expect initscript_other_instance_status 1 "d42pcap is stopped (stale pid file $PF)"
initd stop
! gone "$other" && ok initscript_other_instance_untouched ||
	fail initscript_other_instance_untouched "the other d42pcap was stopped"
kill "$other" 2>/dev/null
wait "$other" 2>/dev/null

# DAEMON or SETTINGS_DIR changed while the agent runs (/etc/default/d42pcap
# edited, or make install with another PREFIX rewrote the script): stop
# and restart still find the agent this script started (until 2026-11-29
# restart said "not running", dropped the pid file and started a second
# agent beside the first, which nothing stopped).
mkdir -p "$T_TMP/old/sbin" "$T_TMP/oldsd"
ln -s "$D42PCAP" "$T_TMP/old/sbin/d42pcap"
cp "$SD/d42pcap.json" "$T_TMP/oldsd/"
INIT_DAEMON=$T_TMP/old/sbin/d42pcap INIT_SD=$T_TMP/oldsd initd start
old=$(pidfile)
initd restart
new=$(pidfile)
if [ "$rc" -eq 0 ] && [ -n "$old" ] && gone "$old" && [ "$(agents)" -eq 1 ] &&
	[ "$out" = "d42pcap stopped
d42pcap started (pid $new)" ]; then
	ok initscript_restart_after_config_change
else
	fail initscript_restart_after_config_change "old pid $old $(gone "$old" || echo "still running"), $(agents) new agents: $out"
fi
[ -n "$old" ] && ! gone "$old" && kill -KILL "$old" 2>/dev/null
initd stop
[ "$(agents)" -eq 0 ] && [ ! -e "$PF" ] && ok initscript_stop_after_config_change ||
	fail initscript_stop_after_config_change "$(agents) agents left: $out"

# The agent starts with SIGHUP and SIGUSR1 ignored, so that a reload in the
# moment before its handlers are in cannot kill it (sig_init() replaces the
# disposition). A stand-in records what it was started with (bits 0 and 9
# of SigIgn), then fails to start.
printf '#!/bin/sh\nwhile read -r k v; do [ "$k" = SigIgn: ] && echo "$v"; done </proc/$$/status >"%s"\nexit 1\n' \
	"$T_TMP/sigign" >"$T_TMP/sigprobe"
chmod 755 "$T_TMP/sigprobe"
INIT_DAEMON=$T_TMP/sigprobe initd start
ign=$(cat "$T_TMP/sigign" 2>/dev/null)
if [ "$rc" -eq 1 ] && [ -n "$ign" ] && [ $(( 0x$ign & 0x201 )) -eq $(( 0x201 )) ]; then
	ok initscript_start_hup_ignored
else
	fail initscript_start_hup_ignored "status $rc, SigIgn \"$ign\": $out"
fi

# Standard error goes beside the pid file (root's), 0600, never into the
# log directory, where a user the agent runs as could plant a link.
ln -s "$T_TMP/victim" "$LD/d42pcap.err"
initd start
pid=$(pidfile)
expect initscript_start_err_apart 0 "d42pcap started (pid $pid)"
if [ ! -e "$T_TMP/victim" ] && [ "$(stat -c %a "${PF%.pid}.err")" = 600 ]; then
	ok initscript_stderr_not_in_logs_dir
else
	fail initscript_stderr_not_in_logs_dir "$(ls -l "$T_TMP/victim" "${PF%.pid}.err" 2>&1)"
fi
initd stop
rm -f "$LD/d42pcap.err"

# A pid file that cannot be written (a full /var/run; here a directory in
# its place): the start fails, and the agent it launched is not left
# running unseen (until 2026-11-29 it was, and the next start made two).
BADPF=$T_TMP/run3/d42pcap.pid
mkdir -p "$BADPF"
initd start "$BADPF"
if [ "$rc" -eq 1 ] && [ "$(agents)" -eq 0 ] &&
	printf '%s\n' "$out" | grep -q 'd42pcap failed to start'; then
	ok initscript_pidfile_unwritable_none_left
else
	fail initscript_pidfile_unwritable_none_left "status $rc, $(agents) agents: $out"
fi
# A lock that cannot be made (read-only or full /var/run; here a name one
# byte too long): said at once, not waited for for ever (until 2026-11-29
# start and stop hung, and stop never signalled the agent); stop goes on.
long=$(printf '%0251d' 0)
LONGPF=$T_TMP/run4/$long.pid
initd start "$LONGPF"
if [ "$rc" -eq 1 ] && [ "$(agents)" -eq 0 ] &&
	printf '%s\n' "$out" | grep -q 'cannot make the lock'; then
	ok initscript_lock_unmakeable_start
else
	fail initscript_lock_unmakeable_start "status $rc, $(agents) agents: $out"
fi
initd start
pid=$(pidfile)
echo "$pid" >"$LONGPF"
initd stop "$LONGPF"
if [ "$rc" -eq 0 ] && gone "$pid" && printf '%s\n' "$out" | grep -q 'stopping without the lock'; then
	ok initscript_lock_unmakeable_stop
else
	fail initscript_lock_unmakeable_stop "status $rc, pid $pid $(gone "$pid" || echo running): $out"
fi
initd stop

# A restart with settings a start would refuse: checked first, so the
# running agent stays (until 2026-11-29 it was stopped, and nothing
# started in its place).
cp "$SD/d42pcap.json" "$T_TMP/good.json"
initd start
pid=$(pidfile)
echo '{"common": {"Interval": "soon"}}' >"$SD/d42pcap.json"
initd restart
if [ "$rc" -eq 1 ] && [ -n "$pid" ] && ! gone "$pid" && [ "$(pidfile)" = "$pid" ] &&
	printf '%s\n' "$out" | grep -q 'd42pcap not restarted: .*common.Interval'; then
	ok initscript_restart_bad_settings_kept
else
	fail initscript_restart_bad_settings_kept "status $rc, pid $pid $(gone "$pid" && echo gone): $out"
fi
cp "$T_TMP/good.json" "$SD/d42pcap.json"
initd stop

# A start that fails (invalid settings): status 1, message, no pid file.
echo '{"common": {"Interval": "soon"}}' >"$SD/d42pcap.json"
initd start
if [ "$rc" -eq 1 ] && [ ! -e "$PF" ] && [ "$(agents)" -eq 0 ] &&
	printf '%s\n' "$out" | grep -qF "d42pcap failed to start; see $LD and ${PF%.pid}.err:" &&
	printf '%s\n' "$out" | grep -q 'common.Interval'; then
	ok initscript_start_fails
else
	fail initscript_start_fails "status $rc, output: $out"
fi

initd bogus
[ "$rc" -eq 2 ] && ok initscript_usage || fail initscript_usage "status $rc: $out"
