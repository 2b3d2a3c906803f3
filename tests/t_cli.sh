#!/bin/sh
# Command line and settings handling of the d42pcap binary, end to end:
# options (single and double dash), exit statuses, -check-config, every bad
# config in tests/data/bad_configs.tsv, common.output, the capture section's
# printing switches, the table limits (common.max-flows/max-listeners), and
# a SIGHUP while reading a link type libpcap cannot filter.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$D42PCAP" ]; then
	fail cli_binary "no executable $D42PCAP (run make first)"
	exit 1
fi
O=$T_TMP/o E=$T_TMP/e
DEMO=$TOP/tests/data/demo.pcapng
$GEN demo "$T_TMP/demo.pcapng"
ANS=$T_TMP/demo.pcapng.answer.json
printf '{"common":{"Interval":60}}\n' >"$T_TMP/x.json"

# d NAME ARGS...: run the binary; status in $rc, output in $O and $E
d() { "$D42PCAP" "$@" >"$O" 2>"$E"; rc=$?; }
# expect NAME RC STDOUT-REGEX|- STDERR-REGEX|-: check the last run
expect() {
	why=
	[ "$rc" -eq "$2" ] || why="exit status $rc, expected $2;"
	if [ "$3" = "" ]; then
		[ ! -s "$O" ] || why="$why stdout not empty: $(head -c 200 "$O");"
	elif [ "$3" != - ]; then
		grep -Eq -- "$3" "$O" || why="$why stdout lacks /$3/: $(head -c 200 "$O");"
	fi
	if [ "$4" != - ]; then
		grep -Eq -- "$4" "$E" || why="$why stderr lacks /$4/: $(head -c 300 "$E");"
	fi
	if [ -z "$why" ]; then ok "$1"; else fail "$1" "$why"; fi
}

# ---- options
for v in -version --version -version=true; do
	d $v
	expect "cli_version_$v" 0 '^d42pcap [0-9]+\.[0-9]+\.[0-9]+' -
done
for h in -h -help --help --h; do
	d $h
	expect "cli_help_$h" 0 '^usage: d42pcap' -
done
d -bogus
expect cli_unknown_option 2 "" 'usage: d42pcap'
d --no-such-option=1
expect cli_unknown_double_dash 2 "" 'unknown option'
d extra-argument
expect cli_stray_argument 2 "" 'usage: d42pcap'
d -r
expect cli_missing_value 2 "" 'usage: d42pcap'
d -version=maybe
expect cli_bad_flag_value 2 "" 'true or false'
for w in -install-win-service --install-win-service -remove-win-service --remove-win-service; do
	d $w
	expect "cli_win_service_$w" 2 "" 'Windows only'
done

# ---- settings location and -check-config
mkdir -p "$T_TMP/conf"
cat >"$T_TMP/conf/agent.json" <<'EOF'
{"device42": {"Host": "https://d42.example.com", "User": "admin",
              "Password": "pa55-Secr3t"},
 "common": {"Interval": 30}, "bogus-section-key": 1}
EOF
chmod 600 "$T_TMP/conf/agent.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name agent.json
expect cli_check_config 0 '"Password": *"\*\*\*\*\*\*\*\*"' -
if grep -q 'pa55-Secr3t' "$O" "$E"; then
	fail cli_check_config_masks_password "the password was printed"
else
	ok cli_check_config_masks_password
fi
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["common"]["Interval"]==30, d' "$O" 2>"$T_TMP/py.err"; then
	ok cli_check_config_is_effective_json
else
	fail cli_check_config_is_effective_json "$(head -c 300 "$T_TMP/py.err")"
fi
d --check-config --settings-dir="$T_TMP/conf" --settings-name=agent.json
expect cli_check_config_double_dash_equals 0 '"Interval": *30' -
# the command line's overrides are what a run would use, so they are
# what it prints (the file's were, until 2026-11-29)
printf '{"common": {"logs-dir": "/var/log/file"}, "pcap": {"Device": "eth0"}}\n' \
	>"$T_TMP/conf/ov.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name ov.json \
	-i lo -logs-dir "$T_TMP/ovlogs" -user nobody
if [ $rc -eq 0 ] && python3 - "$O" "$T_TMP/ovlogs" 2>"$T_TMP/py.err" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
got = (d["pcap"]["Device"], d["common"]["logs-dir"], d["common"]["user"])
assert got == ("lo", sys.argv[2], "nobody"), got
PY
then
	ok cli_check_config_overrides
else
	fail cli_check_config_overrides "exit $rc: $(head -c 300 "$T_TMP/py.err") $(head -c 200 "$E")"
fi
# what a run refuses, -check-config refuses too (exit 2, nothing printed)
printf '{"pcap": {"ignore-tcp": true, "ignore-udp": true}}\n' >"$T_TMP/conf/both.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name both.json
expect cli_check_config_filter_refused 2 "" 'exclude everything'
# a CA file that exists but is no certificate: start-up's TLS set-up
# refuses it, and so must the check (it passed until 2026-11-27)
echo 'not a certificate' >"$T_TMP/conf/notca.pem"
printf '{"device42": {"Host": "https://127.0.0.1:9", "User": "u", "ca-file": "%s/conf/notca.pem"}}\n' \
	"$T_TMP" >"$T_TMP/conf/notca.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name notca.json
expect cli_check_config_ca_unparsable 2 "" 'cannot load CA file .*notca.pem'
printf '{"common": {"chroot": true}}\n' >"$T_TMP/conf/chroot.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name chroot.json
expect cli_check_config_chroot_needs_user 2 "" 'chroot needs a user'
printf '{"common": {"spool-dir": "%s/logs"}}\n' "$T_TMP" >"$T_TMP/conf/samedir.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name samedir.json -logs-dir "$T_TMP/logs"
expect cli_spool_dir_is_logs_dir_option 2 "" 'is also the log directory \(-logs-dir\)'
# the same directory under another name, and the default spool (beside the
# settings file) when an appliance is set: refused too
d -check-config -settings-dir "$T_TMP/conf" -settings-name samedir.json -logs-dir "$T_TMP//./logs/"
expect cli_spool_dir_is_logs_dir_other_name 2 "" 'is also the log directory'
mkdir -p "$T_TMP/logs" && ln -sfn "$T_TMP/logs" "$T_TMP/logs-link"
printf '{"common": {"spool-dir": "%s/logs/", "logs-dir": "%s/logs-link"}}\n' "$T_TMP" "$T_TMP" \
	>"$T_TMP/conf/samedir2.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name samedir2.json
expect cli_spool_dir_is_logs_dir_symlink 2 "" 'is also logs-dir'
printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p"},\n "common": {"logs-dir": "%s/conf/spool/"}}\n' \
	"$T_TMP" >"$T_TMP/conf/defspool.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name defspool.json
expect cli_default_spool_is_logs_dir 2 "" 'spool directory .*/conf/spool is also the log directory'
d -check-config -settings-dir "$T_TMP/conf" -settings-name samedir.json -logs-dir "$T_TMP/other"
expect cli_spool_dir_other_logs_dir_option 0 '"spool-dir"' -
# a full table's report larger than the spool holds: warned about
printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p"},
 "common": {"max-flows": 1000000, "spool-max-bytes": 67108864}}\n' >"$T_TMP/conf/bigrep.json"
chmod 600 "$T_TMP/conf/bigrep.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name bigrep.json
expect cli_report_larger_than_spool_warned 0 '"max-flows"' 'about 333 MiB, more than common.spool-max-bytes \(64 MiB\)'
printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p"},
 "common": {"max-flows": 1000, "spool-max-bytes": 65536}}\n' >"$T_TMP/conf/bigrep2.json"
chmod 600 "$T_TMP/conf/bigrep2.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name bigrep2.json
expect cli_report_larger_than_small_spool_warned 0 '"max-flows"' 'about 341 KiB, more than common.spool-max-bytes \(64 KiB\)'
# indented (common.pretty, spooled so too), records take about 1.4 times
# as much: 170 fit 64 KiB compact (no warning), not pretty (the estimate
# ignored pretty before)
for pretty in false true; do
	printf '{"device42": {"Host": "http://127.0.0.1:9", "User": "u", "Password": "p"},
 "common": {"max-flows": 170, "spool-max-bytes": 65536, "pretty": %s}}\n' $pretty >"$T_TMP/conf/pretty.json"
	chmod 600 "$T_TMP/conf/pretty.json"
	d -check-config -settings-dir "$T_TMP/conf" -settings-name pretty.json
	eval "w_$pretty=\$(grep -c 'more than common.spool-max-bytes' \"\$E\")"
done
[ "$w_false" = 0 ] && [ "$w_true" = 1 ] && ok cli_pretty_report_larger_than_spool_warned ||
	fail cli_pretty_report_larger_than_spool_warned "warnings: compact $w_false, pretty $w_true"
printf '{"common": {"Interval": "often"}}\n' >"$T_TMP/conf/bad.json"
d -check-config -settings-dir "$T_TMP/conf" -settings-name bad.json
expect cli_check_config_bad 2 "" 'bad\.json:1:[0-9]+: common\.Interval'
d -check-config -settings-dir "$T_TMP/conf" -settings-name missing.json
expect cli_settings_missing 2 "" 'missing\.json'

# -settings-dir/-settings-name pick the file: Interval 30 cuts 30 s reports.
printf '{"common":{"Interval":30}}\n' >"$T_TMP/conf/iv30.json"
d -r "$DEMO" -settings-dir "$T_TMP/conf" -settings-name iv30.json
if [ $rc -eq 0 ] && $GEN check "$ANS" "$O" -c "$T_TMP/conf/iv30.json" >"$T_TMP/c.diff" 2>&1; then
	ok cli_settings_dir_and_name
else
	fail cli_settings_dir_and_name "exit $rc: $(head -c 800 "$T_TMP/c.diff")"
fi
# the default: d42pcap.json beside the executable (a copy of the binary)
mkdir -p "$T_TMP/bin"
cp "$D42PCAP" "$T_TMP/bin/d42pcap"
printf '{"common":{"Interval":3600}}\n' >"$T_TMP/bin/d42pcap.json"
(cd / && "$T_TMP/bin/d42pcap" -r "$DEMO" >"$O" 2>"$E"); rc=$?
if [ $rc -eq 0 ] && $GEN check "$ANS" "$O" -c "$T_TMP/bin/d42pcap.json" >"$T_TMP/c.diff" 2>&1; then
	ok cli_settings_default_beside_executable
else
	fail cli_settings_default_beside_executable "exit $rc: $(head -c 800 "$T_TMP/c.diff")"
fi

# ---- -r errors
d -r "$T_TMP/no-such.pcap" -settings-dir "$T_TMP" -settings-name x.json
expect cli_read_missing_file 1 "" 'no-such\.pcap: No such file or directory'
d -r "$T_TMP" -settings-dir "$T_TMP" -settings-name x.json
expect cli_read_directory 1 "" "cannot read capture $T_TMP: .*Is a directory"
# "-" is stdin, read without d42pcap's own file buffer: same report as the
# file but for the name
"$D42PCAP" -r - -settings-dir "$T_TMP" -settings-name x.json <"$T_TMP/demo.pcapng" >"$O" 2>"$E"
rc=$?
"$D42PCAP" -r "$T_TMP/demo.pcapng" -settings-dir "$T_TMP" -settings-name x.json 2>/dev/null |
	sed "s|\"interface\":\"$T_TMP/demo.pcapng\"|\"interface\":\"-\"|" >"$T_TMP/file.out"
if [ $rc -eq 0 ] && [ -s "$O" ] && grep -q '"interface":"-"' "$O" && cmp -s "$O" "$T_TMP/file.out"; then
	ok cli_read_stdin
else
	fail cli_read_stdin "exit $rc; $(diff "$O" "$T_TMP/file.out" | head -c 400) $(head -c 300 "$E")"
fi
printf 'this is not a capture file\n' >"$T_TMP/junk.pcap"
d -r "$T_TMP/junk.pcap" -settings-dir "$T_TMP" -settings-name x.json
expect cli_read_not_a_capture 1 "" 'junk\.pcap'

# ---- bad configs: exit 2, FILE:LINE:COL: PATH: message, nothing on stdout
TSV=$TOP/tests/data/bad_configs.tsv
if [ ! -f "$TSV" ]; then
	skip cli_bad_configs "no $TSV"
else
	nbad=0 nrows=0
	# cut, not IFS=<tab> read: read would merge an empty column
	while IFS= read -r line; do
		case $line in ''|'#'*) continue ;; esac
		name=$(printf '%s\n' "$line" | cut -f1)
		path=$(printf '%s\n' "$line" | cut -f2)
		msg=$(printf '%s\n' "$line" | cut -f3)
		printf '%s\n' "$line" | cut -f4- >"$T_TMP/bad.json"
		nrows=$((nrows + 1))
		d -r "$DEMO" -settings-dir "$T_TMP" -settings-name bad.json
		why=
		[ $rc -eq 2 ] || why="exit status $rc;"
		[ ! -s "$O" ] || why="$why stdout not empty;"
		grep -Eq 'bad\.json:[0-9]+:[0-9]+: ' "$E" || why="$why no FILE:LINE:COL;"
		[ "$path" = - ] || grep -qF "$path: " "$E" || why="$why no key path $path;"
		grep -qF -- "$msg" "$E" || why="$why message lacks \"$msg\";"
		if [ -n "$why" ]; then
			fail "cli_bad_config_$name" "$why stderr: $(head -c 300 "$E")"
			nbad=$((nbad + 1))
		fi
	done <"$TSV"
	if [ "$nrows" -lt 10 ]; then
		fail cli_bad_configs "only $nrows rows read from $TSV"
	elif [ $nbad -eq 0 ]; then
		ok "cli_bad_configs ($nrows configs)"
	fi
fi

# ---- common.output: reports go to the file, stdout stays empty
printf '{"common":{"Interval":60,"output":"%s"}}\n' "$T_TMP/reports.jsonl" >"$T_TMP/out.json"
d -r "$DEMO" -settings-dir "$T_TMP" -settings-name out.json
if [ $rc -eq 0 ] && [ ! -s "$O" ] && [ -f "$T_TMP/reports.jsonl" ] &&
	$GEN check "$ANS" "$T_TMP/reports.jsonl" >"$T_TMP/c.diff" 2>&1; then
	ok cli_output_file
else
	fail cli_output_file "exit $rc, stdout $(wc -c <"$O") bytes: $(head -c 600 "$T_TMP/c.diff")"
fi
printf '{"common":{"Interval":60,"output":"-"}}\n' >"$T_TMP/dash.json"
d -r "$DEMO" -settings-dir "$T_TMP" -settings-name dash.json
if [ $rc -eq 0 ] && $GEN check "$ANS" "$O" >"$T_TMP/c.diff" 2>&1; then
	ok cli_output_dash_is_stdout
else
	fail cli_output_dash_is_stdout "exit $rc: $(head -c 600 "$T_TMP/c.diff")"
fi
# Reports that cannot be written (a full disk) make -r exit 1, as the
# manual says; every one is logged.
"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name x.json >/dev/full 2>"$E"
rc=$?
n=$(grep -c 'could not write the report' "$E")
[ $rc -eq 1 ] && [ "$n" = 3 ] && ok cli_unwritable_reports_exit_1 ||
	fail cli_unwritable_reports_exit_1 "exit $rc, $n reports said lost: $(head -c 300 "$E")"
printf '{"common":{"output":"%s/no/such/dir/r.jsonl"}}\n' "$T_TMP" >"$T_TMP/badout.json"
d -r "$DEMO" -settings-dir "$T_TMP" -settings-name badout.json
expect cli_output_unwritable 1 "" 'no/such/dir'

# ---- capture section printing switches (stderr, one line per event)
# counts NAME CONFIG-JSON: run the demo, count "tag: " lines per tag
counts() {
	printf '%s\n' "$2" >"$T_TMP/$1.json"
	"$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name "$1.json" >"$O" 2>"$E"
	rc=$?
}
# model totals over the demo: records, decoded and undecoded packets
set -- $(python3 -c '
import json, sys
sys.path.insert(0, sys.argv[2])
import gen_pcap
ans = json.load(open(sys.argv[1]))
docs = gen_pcap.expect(ans["records"], {"common": {"Interval": 60}})
print(len(docs), sum(len(d["communications"]) for d in docs),
      sum(d["stats"]["decoded"] for d in docs),
      sum(sum(d["stats"]["undecoded"].values()) for d in docs))' "$ANS" "$TOP/tests")
ndocs=$1 nrec=$2 ndec=$3 nund=$4
counts live '{"capture":{"live-entries":true}}'
n=$(grep -c '^live: ' "$E")
if [ $rc -eq 0 ] && [ "$n" -eq "$nrec" ] && $GEN check "$ANS" "$O" >/dev/null 2>&1; then
	ok cli_live_entries
else
	fail cli_live_entries "exit $rc, $n live lines, expected $nrec (one per record and interval)"
fi
counts liveok '{"capture":{"live-entries-ok":true}}'
n=$(grep -c '^ok: ' "$E")
if [ $rc -eq 0 ] && [ "$n" -eq "$nrec" ]; then ok cli_live_entries_ok
else fail cli_live_entries_ok "exit $rc, $n ok lines, expected $nrec"; fi
counts data '{"capture":{"print-data":true}}'
n=$(grep -c '^data: ' "$E")
if [ $rc -eq 0 ] && [ "$n" -eq "$ndec" ]; then ok cli_print_data
else fail cli_print_data "exit $rc, $n data lines, expected $ndec"; fi
counts unproc '{"capture":{"unprocessed-packets":true}}'
n=$(grep -c '^unprocessed: ' "$E")
if [ $rc -eq 0 ] && [ "$n" -eq "$nund" ]; then ok cli_unprocessed_packets
else fail cli_unprocessed_packets "exit $rc, $n unprocessed lines, expected $nund"; fi
counts quiet '{"common":{"Interval":60}}'
if grep -Eq '^(live|ok|nok|data|unprocessed): ' "$E"; then
	fail cli_printing_off_by_default "$(grep -E '^(live|ok|nok|data|unprocessed): ' "$E" | head -3)"
else
	ok cli_printing_off_by_default
fi
counts stats '{"capture":{"only-stats":true}}'
if [ $rc -eq 0 ] && python3 -c '
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
assert len(docs) == int(sys.argv[2]) > 0
assert all(d["communications"] == [] and d["stats"]["flows"] > 0 for d in docs)
' "$O" "$ndocs" 2>/dev/null; then
	ok cli_only_stats
else
	fail cli_only_stats "exit $rc: $(head -c 300 "$O")"
fi

# ---- table limits: exact flows and drops from the model
$GEN flows 100 "$T_TMP/flows100.pcap"
$GEN flows 3000 "$T_TMP/flows3000.pcap"
# limit NAME CAPTURE CONFIG-JSON
limit() {
	printf '%s\n' "$3" >"$T_TMP/$1.json"
	"$D42PCAP" -r "$2" -settings-dir "$T_TMP" -settings-name "$1.json" >"$O" 2>"$E"
	rc=$?
	if [ $rc -eq 0 ] && $GEN check "$2.answer.json" "$O" -c "$T_TMP/$1.json" >"$T_TMP/c.diff" 2>&1; then
		ok "cli_$1"
	else
		fail "cli_$1" "exit $rc: $(head -c 800 "$T_TMP/c.diff") $(head -c 200 "$E")"
	fi
}
limit max_flows_20 "$T_TMP/flows100.pcap" '{"common":{"max-flows":20},"capture":{"live-entries-nok":true}}'
n=$(grep -c '^nok: ' "$E")
if [ "$n" -eq 80 ]; then ok cli_live_entries_nok; else fail cli_live_entries_nok "$n nok lines, expected 80"; fi
if grep -q 'max-flows' "$E"; then ok cli_max_flows_warning; else fail cli_max_flows_warning "no warning naming common.max-flows"; fi
limit max_flows_1000 "$T_TMP/flows3000.pcap" '{"common":{"max-flows":1000},"capture":{"live-entries-nok":true}}'
n=$(grep -c '^nok: ' "$E")
if [ "$n" -eq 100 ]; then ok cli_live_entries_nok_capped; else fail cli_live_entries_nok_capped "$n nok lines, expected 100 (the cap)"; fi
limit max_flows_exact "$T_TMP/flows100.pcap" '{"common":{"max-flows":100}}'
limit max_listeners_2 "$T_TMP/demo.pcapng" '{"common":{"max-listeners":2}}'

# A pcapng stamp past what 64-bit nanoseconds hold (microsecond units allow
# year 292,000) is taken as year 2508: intervals stay in order, none is
# reported twice, none ends before it starts.
python3 -c '
import sys; sys.path.insert(0, sys.argv[1] + "/tests")
import gen_pcap as G
c = G.Capture(G.LT_EN10MB, fmt="pcapng", ns=False, comment="far future")
for t in (1700000000 * G.NS, (1 << 62) * 1000, 1700000005 * G.NS):
    c.add(G.udp_pkt(t, "10.0.0.1", "10.0.0.3", 5000, 53))
c.write(sys.argv[2], answer=False)' "$TOP" "$T_TMP/far.pcapng"
d -r "$T_TMP/far.pcapng" -settings-dir "$T_TMP" -settings-name x.json
why=$(python3 -c '
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
iv = [(r["interval"]["start"], r["interval"]["end"]) for r in reps]
n = sum(r["stats"]["packets"] for r in reps)
ok = (len(reps) == 2 and all(s < e for s, e in iv) and iv[0][1] <= iv[1][0]
      and iv[1][0].startswith("2508-") and n == 3)
print("" if ok else "intervals %s, %d packets" % (iv, n))' "$O" 2>&1)
[ $rc -eq 0 ] && [ -z "$why" ] && ok cli_far_future_timestamps ||
	fail cli_far_future_timestamps "exit $rc: $why $(head -c 300 "$E")"
# Stamps in whole seconds (if_tsresol 10^0) of 2^63 s and more, which
# libpcap hands over as negative: year 2508 too, not folded into 1970-2106
# as a pcap file's 32-bit seconds are (until 2026-11-27 they were). The
# last, 2^64 - 1, is -1 to libpcap, as a stamp a second before 1970 is:
# 1970, counted in the open interval.
python3 -c '
import sys; sys.path.insert(0, sys.argv[1] + "/tests")
import gen_pcap as G
c = G.Capture(G.LT_EN10MB, fmt="pcapng", tsresol=0, comment="negative seconds")
for s in (1700000000, (1 << 63) + 5, (1 << 64) - 1):
    c.add(G.udp_pkt(s * G.NS, "10.0.0.1", "10.0.0.3", 5000, 53))
c.write(sys.argv[2], answer=False)' "$TOP" "$T_TMP/neg.pcapng"
d -r "$T_TMP/neg.pcapng" -settings-dir "$T_TMP" -settings-name x.json
why=$(python3 -c '
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
iv = [(r["interval"]["start"][:4], r["interval"]["end"][:4]) for r in reps]
n = sum(r["stats"]["packets"] for r in reps)
print("" if iv == [("2023", "2023"), ("2508", "2508")] and n == 3 else
      "intervals %s, %d packets" % (iv, n))' "$O" 2>&1)
[ $rc -eq 0 ] && [ -z "$why" ] && ok cli_pcapng_negative_seconds ||
	fail cli_pcapng_negative_seconds "exit $rc: $why $(head -c 300 "$E")"

# A pcapng interface whose if_tsoffset puts its stamps before 1970: 1970's
# first instant, not year 2508 (taken for stamps of 2^63 s and more until
# 2026-11-29, and every packet after it with it).
python3 -c '
import sys; sys.path.insert(0, sys.argv[1] + "/tests")
import gen_pcap as G
c = G.Capture(G.LT_EN10MB, fmt="pcapng", tsoffset=-1700001000, comment="before 1970")
for s in (1700000000, 1700000060):
    c.add(G.udp_pkt(s * G.NS, "10.0.0.1", "10.0.0.3", 5000, 53))
c.write(sys.argv[2], answer=False)' "$TOP" "$T_TMP/pre1970.pcapng"
d -r "$T_TMP/pre1970.pcapng" -settings-dir "$T_TMP" -settings-name x.json
why=$(python3 -c '
import json, sys
reps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
iv = [r["interval"]["start"] for r in reps]
seen = [c["first_seen"] for r in reps for c in r["communications"]]
n = sum(r["stats"]["packets"] for r in reps)
print("" if iv == ["1970-01-01T00:00:00Z"] and seen == ["1970-01-01T00:00:00.000000Z"]
      and n == 2 else "intervals %s, first_seen %s, %d packets" % (iv, seen, n))' "$O" 2>&1)
[ $rc -eq 0 ] && [ -z "$why" ] && ok cli_pcapng_before_1970 ||
	fail cli_pcapng_before_1970 "exit $rc: $why $(head -c 300 "$E")"

# A link type libpcap cannot filter (MTP2) and the agent does not decode:
# with a filter setting its packets are counted unfiltered, as when such an
# interface appears later; the run used to end with exit 2.
python3 -c '
import sys; sys.path.insert(0, sys.argv[1] + "/tests")
import gen_pcap as G
c = G.Capture(140, comment="MTP2")
for i in range(3):
    c.add(G.P((1700000000 + i) * G.NS, b"", 0, {"reason": "link_unsupported"},
              frame=bytes(range(8 + i))))
c.write(sys.argv[2], answer=False)' "$TOP" "$T_TMP/mtp2.pcap"
printf '{"pcap": {"ignore-tcp": true}}\n' >"$T_TMP/conf/mtp2.json"
d -r "$T_TMP/mtp2.pcap" -settings-dir "$T_TMP/conf" -settings-name mtp2.json
expect cli_unfilterable_link_counted 0 '"link_unsupported":3' 'counting its packets unfiltered'

# A stop signal ends the agent even while the reader of its standard output
# or error takes nothing (a pipe to a stalled program): writes after the
# signal wait for it SIG_STOP_WRITE_SEC (2 s) in all. Before, a write
# blocked there was restarted after the signal, and the agent hung until
# the reader went away. Each run writes more than a pipe holds (3000
# records), so it blocks before its end; the signal comes while it does.
$GEN flows 3000 "$T_TMP/f3k.pcap" >/dev/null
printf '{"capture": {"live-entries": true}}\n' >"$T_TMP/conf/entries.json"
# stalled NAME OUT ERR ARGS...: OUT or ERR is "fifo", the other a file
stalled() {
	n=$1 so=$2 se=$3
	shift 3
	rm -f "$T_TMP/fifo"
	mkfifo "$T_TMP/fifo"
	sleep 60 <"$T_TMP/fifo" &
	rd=$!
	[ "$so" = fifo ] && so=$T_TMP/fifo
	[ "$se" = fifo ] && se=$T_TMP/fifo
	"$D42PCAP" "$@" >"$so" 2>"$se" &
	pid=$!
	sleep 1
	stop_agent $pid TERM
	st=$?
	kill $rd 2>/dev/null
	wait $rd 2>/dev/null
}
stalled cli_stop_stalled_stdout fifo "$E" -r "$T_TMP/f3k.pcap"
[ $st -eq 1 ] && grep -q 'reader took nothing for 2 s after the stop signal' "$E" &&
	ok cli_stop_stalled_stdout ||
	fail cli_stop_stalled_stdout "exit status $st (1 expected; 137: hung): $(head -c 300 "$E")"
stalled cli_stop_stalled_stderr "$O" fifo -r "$T_TMP/f3k.pcap" \
	-settings-dir "$T_TMP/conf" -settings-name entries.json
# It stops reading there: the report holds the packets read until then.
[ $st -eq 0 ] && grep -q '"packets":[1-9]' "$O" && ok cli_stop_stalled_stderr ||
	fail cli_stop_stalled_stderr "exit status $st (0 expected; 137: hung): $(head -c 300 "$O")"

# ---- SIGHUP while reading a link type libpcap cannot filter (MTP2): start-up
# counts its packets unfiltered, and so does a reload that changes the lists,
# applying the rest of the file (until 2026-11-29 it refused the file whole).
M=$T_TMP/mtp
mkdir -p "$M"
rm -f "$M/fifo" "$M/go"
mkfifo "$M/fifo"
python3 - "$M" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/hdr", "wb").write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 140))
with open(d + "/pkts", "wb") as f:
    for i in range(3):
        b = bytes(range(10 + i))
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(b), len(b)) + b)
PY
printf '{"capture":{"ignore-ports":[80]}}\n' >"$M/s.json"
# The writer holds the packets back until the reload is done (10 s at
# most); bounded, as its open of the FIFO waits for a reader that a failed
# start never brings.
timeout 30 sh -c 'exec >"$1/fifo"; cat "$1/hdr"; w=0
  while [ ! -e "$1/go" ] && [ $w -lt 100 ]; do sleep 0.1; w=$((w + 1)); done
  cat "$1/pkts"' sh "$M" &
wr=$!
# Emptied first: the agent's own redirect happens after the fork, and the
# stopped-stdout test above left 'capturing on' in there, which once sent
# the SIGHUP before the agent was running and hung this test under load.
: >"$O"; : >"$E"
"$D42PCAP" -settings-dir "$M" -settings-name s.json -r "$M/fifo" >"$O" 2>"$E" &
pid=$!
if wait_for "$E" 'capturing on'; then
	printf '{"capture":{"ignore-ports":[81],"only-stats":true},"common":{"pretty":true}}\n' \
		>"$M/s.json"
	kill -HUP $pid
	wait_for "$E" 'SIGHUP: ' 50
fi
touch "$M/go"
wait $wr
wait_for "$E" 'stopped after' 100 || kill -TERM $pid 2>/dev/null
wait $pid
if grep -q 'SIGHUP: .*MTP2 .*counting its packets unfiltered' "$E" &&
   grep -q 'applied: capture.ignore-ports, capture.only-stats, common.pretty' "$E" &&
   grep -q '^  "agent": {' "$O" && grep -q '"packets": 3' "$O"; then
	ok cli_reload_unfilterable_link
else
	fail cli_reload_unfilterable_link "$(head -c 600 "$E") / $(head -c 200 "$O")"
fi
