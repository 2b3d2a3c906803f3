#!/bin/sh
# `make install DESTDIR=... PREFIX=...` lays out exactly the expected files
# with the expected modes, rewrites the service files' paths for PREFIX,
# keeps an existing settings file, and the installed binary, settings and
# systemd unit work (systemd-analyze verify, when it exists).
. "$(dirname "$0")/lib.sh"

umask 022
if [ ! -x "$TOP/d42pcap" ]; then
	skip install "no $TOP/d42pcap: run make first"
	exit 0
fi
VERSION=$(sed -n 's/^VERSION *:= *//p' "$TOP/Makefile")

# -o d42pcap: install what was built, never rebuild from a tree that other
# work may be changing.
do_install() {	# ROOT PREFIX
	make -s --no-print-directory -C "$TOP" -o d42pcap install \
		DESTDIR="$1" PREFIX="$2" >"$T_TMP/make.out" 2>&1
}

# "MODE TYPE PATH" for everything below ROOT, sorted.
layout() { (cd "$1" && find . -mindepth 1 -printf '%m %y %P\n' | LC_ALL=C sort -k3); }

# The expected layout for PREFIX ($1, without the leading /), settings in /etc.
expected() {
	p=$1
	{
		echo "755 d etc"
		echo "700 d etc/d42pcap"
		echo "600 f etc/d42pcap/d42pcap.json"
		echo "700 d etc/d42pcap/spool"
		echo "755 d etc/init.d"
		echo "755 f etc/init.d/d42pcap"
		d=
		for part in $(echo "$p" | tr / ' '); do
			d=${d:+$d/}$part
			echo "755 d $d"
		done
		for d in lib lib/systemd lib/systemd/system sbin share share/d42pcap \
			share/d42pcap/openwrt share/doc share/doc/d42pcap share/man share/man/man8; do
			echo "755 d $p/$d"
		done
		echo "644 f $p/lib/systemd/system/d42pcap.service"
		echo "755 f $p/sbin/d42pcap"
		echo "755 f $p/share/d42pcap/openwrt/d42pcap.procd"
		echo "644 f $p/share/man/man8/d42pcap.8"
		for f in README.md LICENSE d42pcap.json.example "$TOP"/docs/*.md; do
			echo "644 f $p/share/doc/d42pcap/${f##*/}"
		done
	} | LC_ALL=C sort -u -k3
}

# ---- PREFIX=/usr
R=$T_TMP/root
if ! do_install "$R" /usr; then
	fail install_usr "make install failed: $(head -c 600 "$T_TMP/make.out")"
	exit 0
fi
layout "$R" >"$T_TMP/got"
expected usr >"$T_TMP/want"
if diff "$T_TMP/want" "$T_TMP/got" >"$T_TMP/diff"; then
	ok install_layout_usr
else
	fail install_layout_usr "layout differs (- expected, + installed): $(grep '^[<>]' "$T_TMP/diff" | tr '\n' ' ' | head -c 600)"
fi

out=$("$R/usr/sbin/d42pcap" -version 2>&1)
case $out in
"d42pcap $VERSION ("*) ok install_binary_runs ;;
*) fail install_binary_runs "-version printed: $out" ;;
esac
cmp -s "$TOP/d42pcap" "$R/usr/sbin/d42pcap" && ok install_binary_same ||
	fail install_binary_same "installed binary differs from $TOP/d42pcap"

# The installed settings are the example and valid as they stand.
if cmp -s "$TOP/d42pcap.json.example" "$R/etc/d42pcap/d42pcap.json" &&
	"$R/usr/sbin/d42pcap" -check-config -settings-dir "$R/etc/d42pcap" >"$T_TMP/cc.out" 2>&1; then
	ok install_config_valid
else
	fail install_config_valid "$(head -c 600 "$T_TMP/cc.out")"
fi

# Paths in the service files for PREFIX=/usr are the ones in the sources.
if cmp -s "$TOP/init/d42pcap.service" "$R/usr/lib/systemd/system/d42pcap.service" &&
	cmp -s "$TOP/init/d42pcap.init" "$R/etc/init.d/d42pcap" &&
	cmp -s "$TOP/init/d42pcap.procd" "$R/usr/share/d42pcap/openwrt/d42pcap.procd"; then
	ok install_service_files_usr
else
	fail install_service_files_usr "installed service files differ from init/*"
fi

# A second install keeps an edited settings file.
echo '{"common": {"Interval": 5}}' >"$R/etc/d42pcap/d42pcap.json"
if do_install "$R" /usr && [ "$(cat "$R/etc/d42pcap/d42pcap.json")" = '{"common": {"Interval": 5}}' ] &&
	grep -q "^kept $R/etc/d42pcap/d42pcap.json" "$T_TMP/make.out"; then
	ok install_keeps_config
else
	fail install_keeps_config "settings overwritten: $(head -c 300 "$T_TMP/make.out")"
fi
layout "$R" >"$T_TMP/got2"
cmp -s "$T_TMP/got" "$T_TMP/got2" && ok install_idempotent ||
	fail install_idempotent "second install changed the layout: $(diff "$T_TMP/got" "$T_TMP/got2" | tr '\n' ' ')"
# ... and the mode an admin gave the settings directory (a group that may
# read it, for a non-root agent: docs/OPERATION.md)
chmod 0750 "$R/etc/d42pcap"
if do_install "$R" /usr && [ "$(stat -c %a "$R/etc/d42pcap")" = 750 ]; then
	ok install_keeps_settings_dir_mode
else
	fail install_keeps_settings_dir_mode "mode $(stat -c %a "$R/etc/d42pcap") after a reinstall"
fi
chmod 0700 "$R/etc/d42pcap"

# ---- PREFIX=/usr/local: service files name /usr/local/sbin/d42pcap.
L=$T_TMP/local
if do_install "$L" /usr/local; then
	layout "$L" >"$T_TMP/got"
	expected usr/local >"$T_TMP/want"
	diff "$T_TMP/want" "$T_TMP/got" >"$T_TMP/diff" && ok install_layout_local ||
		fail install_layout_local "$(grep '^[<>]' "$T_TMP/diff" | tr '\n' ' ' | head -c 600)"
	u=$L/usr/local/lib/systemd/system/d42pcap.service
	i=$L/etc/init.d/d42pcap
	if grep -qx 'ExecStart=/usr/local/sbin/d42pcap -settings-dir /etc/d42pcap -logs-dir /var/log/d42pcap' "$u" &&
		grep -qx 'DAEMON=${DAEMON:-/usr/local/sbin/d42pcap}' "$i" &&
		! grep -q /usr/sbin "$u" "$i"; then
		ok install_paths_local
	else
		fail install_paths_local "$(grep -n 'sbin' "$u" "$i" | tr '\n' ' ')"
	fi
	# uninstall: every installed file goes, the settings and spool stay
	echo '{}' >"$L/etc/d42pcap/spool/0000000000000001.d42"
	make -s --no-print-directory -C "$TOP" uninstall DESTDIR="$L" PREFIX=/usr/local \
		>"$T_TMP/un.out" 2>&1
	left=$(cd "$L" && find . -type f | LC_ALL=C sort | tr '\n' ' ')
	if [ "$left" = "./etc/d42pcap/d42pcap.json ./etc/d42pcap/spool/0000000000000001.d42 " ] &&
		[ ! -e "$L/usr/local/share/doc/d42pcap" ] && [ ! -e "$L/usr/local/share/d42pcap" ] &&
		grep -q "^kept $L/etc/d42pcap" "$T_TMP/un.out"; then
		ok uninstall_keeps_settings_only
	else
		fail uninstall_keeps_settings_only "left: $left $(head -c 300 "$T_TMP/un.out")"
	fi
else
	fail install_layout_local "make install failed: $(head -c 600 "$T_TMP/make.out")"
fi

# ---- The unit's capability bounding set is enough: the installed agent,
# root with only those capabilities and no_new_privs (as systemd would run
# it), captures on lo in a namespace of the test's own and stops cleanly.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$R/usr/lib/systemd/system/d42pcap.service")
if ! is_root || ! command -v setpriv >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
	skip install_unit_capabilities "needs root, setpriv and iproute2"
else
	NS=d42inst$$
	trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T_TMP"' EXIT
	set_caps=-all
	for c in $caps; do
		set_caps="$set_caps,+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"
	done
	E=$T_TMP/capetc LG=$T_TMP/caplog
	mkdir -p "$E" "$LG" && chmod 700 "$E"
	printf '{"common": {"Interval": 3600}, "pcap": {"Device": "lo", "promiscuous-mode": true}}\n' >"$E/d42pcap.json"
	chmod 600 "$E/d42pcap.json"
	if ip netns add "$NS" && ip -n "$NS" link set lo up; then
		ip netns exec "$NS" setpriv --bounding-set "$set_caps" --inh-caps -all --no-new-privs \
			"$R/usr/sbin/d42pcap" -settings-dir "$E" -logs-dir "$LG" >"$T_TMP/cap.out" 2>"$T_TMP/cap.err" &
		p=$!
		i=0
		while [ $i -lt 300 ] && ! grep -q 'capturing on lo' "$LG/d42pcap.log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
		bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null)
		kill -TERM $p 2>/dev/null
		i=0
		while [ $i -lt 200 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
		kill -KILL $p 2>/dev/null
		wait $p
		rc=$?
		# CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SETGID 6, CAP_SETUID 7,
		# CAP_SYS_CHROOT 18, CAP_CHOWN 0, CAP_DAC_OVERRIDE 1
		if [ $rc -eq 0 ] && grep -q 'capturing on lo' "$LG/d42pcap.log" &&
			[ "$bnd" = 00000000000430c3 ] && grep -q '"interface":"lo"' "$T_TMP/cap.out"; then
			ok install_unit_capabilities
		else
			fail install_unit_capabilities "status $rc, CapBnd $bnd: $(cat "$T_TMP/cap.err" "$LG"/* 2>/dev/null | head -c 400)"
		fi
		# With common.user and an appliance (down): the spool, root's and
		# 0700, is given to the user, who spools the reports there; that
		# takes CAP_CHOWN in the bounding set.
		SPD=$T_TMP/capspool
		mkdir -p "$SPD" && chmod 700 "$SPD" && rm -f "$LG"/*
		printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p", "timeout": 1},
 "common": {"Interval": 1, "user": "nobody", "spool-dir": "%s"}, "pcap": {"Device": "lo"}}\n' \
			"$SPD" >"$E/d42pcap.json"
		ip netns exec "$NS" setpriv --bounding-set "$set_caps" --inh-caps -all --no-new-privs \
			"$R/usr/sbin/d42pcap" -settings-dir "$E" -logs-dir "$LG" >/dev/null 2>"$T_TMP/cap2.err" &
		p=$!
		i=0
		while [ $i -lt 100 ] && ! grep -q 'capturing on lo' "$LG/d42pcap.log" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		sleep 2.5	# reports of two intervals, and the final one
		kill -TERM $p 2>/dev/null
		wait $p
		if [ "$(stat -c %U "$SPD")" = nobody ] &&
			[ -n "$(find "$SPD" -maxdepth 1 -name '*.d42' -user nobody)" ] &&
			grep -q 'capturing on lo' "$LG/d42pcap.log" &&
			! grep -q 'cannot give\|could not write' "$LG/d42pcap.log"; then
			ok install_unit_capabilities_user
		else
			fail install_unit_capabilities_user "$(ls -l "$SPD"; grep -h 'cannot\|error' "$LG"/* "$T_TMP/cap2.err" | head -c 400)"
		fi
		# The next start, root again with the same bounding set: the
		# spool and the log, now the user's and 0700, open as before and
		# the reports waiting there are still to be delivered (not a
		# memory-only spool that loses them).
		ip netns exec "$NS" setpriv --bounding-set "$set_caps" --inh-caps -all --no-new-privs \
			"$R/usr/sbin/d42pcap" -settings-dir "$E" -logs-dir "$LG" >/dev/null 2>"$T_TMP/cap3.err" &
		p=$!
		i=0
		while [ $i -lt 100 ] && [ "$(grep -c 'capturing on lo' "$LG/d42pcap.log" 2>/dev/null)" -lt 2 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -TERM $p 2>/dev/null
		wait $p
		if [ "$(grep -c 'capturing on lo' "$LG/d42pcap.log")" -ge 2 ] &&
			grep -q 'report(s), [0-9]* bytes to deliver' "$LG/d42pcap.log" &&
			! grep -q 'not usable\|memory only' "$LG/d42pcap.log" "$T_TMP/cap3.err"; then
			ok install_unit_capabilities_user_restart
		else
			fail install_unit_capabilities_user_restart "$(cat "$T_TMP/cap3.err"; grep -h 'spool\|cannot\|error' "$LG"/* | head -c 600)"
		fi
		ip netns del "$NS"
	else
		fail install_unit_capabilities "cannot create network namespace"
	fi
fi

# ---- systemd-analyze verify on the installed unit. It checks that
# ExecStart's program exists, so verify a copy that names the installed one.
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip install_systemd_verify "no systemd-analyze"
	exit 0
fi
mkdir -p "$T_TMP/unit"
sed "s|^ExecStart=/usr/sbin/d42pcap |ExecStart=$R/usr/sbin/d42pcap |" \
	"$R/usr/lib/systemd/system/d42pcap.service" >"$T_TMP/unit/d42pcap.service"
# --man=no: the man page is not installed on this system's MANPATH.
timeout 60 systemd-analyze verify --man=no "$T_TMP/unit/d42pcap.service" >"$T_TMP/verify.out" 2>&1
rc=$?
# Any message at all (unknown key, bad value) is a failure, though the
# command exits 0 for most of them.
if [ $rc -eq 0 ] && [ ! -s "$T_TMP/verify.out" ]; then
	ok install_systemd_verify
else
	fail install_systemd_verify "status $rc: $(head -c 600 "$T_TMP/verify.out")"
fi
# The check itself: a broken unit must be reported.
sed 's/^Restart=always/Restart=sometimes/' "$T_TMP/unit/d42pcap.service" >"$T_TMP/unit/bad.service"
timeout 60 systemd-analyze verify --man=no "$T_TMP/unit/bad.service" >"$T_TMP/verify.out" 2>&1
grep -qi 'restart specifier' "$T_TMP/verify.out" && ok install_systemd_verify_detects ||
	fail install_systemd_verify_detects "a bad Restart= value was not reported"

# Hardening as the issue asks: CAP_NET_RAW and CAP_NET_ADMIN (plus only
# what common.user/chroot need to drop privileges), NoNewPrivileges,
# ProtectSystem=strict with spool and logs writable.
u=$T_TMP/unit/d42pcap.service
if grep -qx 'CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_CHROOT' "$u" &&
	grep -qx 'AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN' "$u" &&
	grep -qx 'NoNewPrivileges=yes' "$u" && grep -qx 'ProtectSystem=strict' "$u" &&
	grep -qx 'Restart=always' "$u" && grep -qx 'LogsDirectory=d42pcap' "$u" &&
	grep -qx 'ReadWritePaths=-/etc/d42pcap/spool' "$u" && grep -qx 'RestartPreventExitStatus=2' "$u"; then
	ok install_unit_hardening
else
	fail install_unit_hardening "capabilities, NoNewPrivileges, ProtectSystem or writable paths missing"
fi

# Overall exposure (systemd-analyze security, 0 best .. 10 worst) at most
# 3.3 ("OK"); 3.2 with systemd 252 (2.8 before CAP_DAC_OVERRIDE, which the
# next start after common.user gave the spool away needs). Older systemd
# has no --offline.
if systemd-analyze security --offline=yes --threshold=100 "$u" >/dev/null 2>&1; then
	systemd-analyze security --offline=yes --threshold=33 "$u" >"$T_TMP/sec.out" 2>&1 &&
		ok install_unit_exposure ||
		fail install_unit_exposure "$(grep -i 'overall exposure' "$T_TMP/sec.out")"
else
	skip install_unit_exposure "systemd-analyze security --offline not supported"
fi
