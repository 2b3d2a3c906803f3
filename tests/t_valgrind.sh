#!/bin/sh
# valgrind memcheck over whole runs: reading the demo capture to stdout, and
# delivering it over HTTPS to the Device42 emulator (TLS, HTTP, spool, d42).
# Any memory error, or any leak at exit, fails.
. "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null 2>&1; then
	skip valgrind "valgrind is not installed"
	exit 0
fi
if [ -n "${D42_SANITIZED:-}" ]; then
	skip valgrind "not under a sanitizer build"
	exit 0
fi
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all
	--errors-for-leak-kinds=all --track-fds=no"
DEMO=$TOP/tests/data/demo.pcapng

echo '{"common": {"Interval": 60}}' >"$T_TMP/local.json"
# shellcheck disable=SC2086
timeout 300 $VG "$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name local.json \
	>"$T_TMP/out.json" 2>"$T_TMP/vg1.log"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$T_TMP/out.json")" -eq 3 ]; then
	ok valgrind_offline_local
else
	fail valgrind_offline_local "exit $rc: $(grep -v '^d42pcap:' "$T_TMP/vg1.log" | head -c 600)"
fi

if ! command -v openssl >/dev/null 2>&1; then
	skip valgrind_delivery "needs openssl"
	exit 0
fi
sh "$TOP/tests/mkcerts.sh" "$T_TMP/certs" >/dev/null || { fail valgrind_delivery "mkcerts"; exit 0; }
python3 "$TOP/tests/d42_emulator.py" --port-file "$T_TMP/port" --quiet \
	--cert "$T_TMP/certs/server.crt" --key "$T_TMP/certs/server.key" \
	--user admin --password vg-secret --device 10.1.1.10=web1 --device 10.1.1.53=dns1 \
	>"$T_TMP/emu.log" 2>&1 &
emu=$!
i=0
while [ ! -s "$T_TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$T_TMP/port" 2>/dev/null)
cat >"$T_TMP/d42.json" <<JSON
{"device42": {"Host": "https://127.0.0.1:$port", "User": "admin", "Password": "vg-secret",
  "ca-file": "$T_TMP/certs/ca.crt", "timeout": 20},
 "common": {"Interval": 60, "spool-dir": "$T_TMP/spool"}}
JSON
chmod 600 "$T_TMP/d42.json"
# shellcheck disable=SC2086
timeout 600 $VG "$D42PCAP" -r "$DEMO" -settings-dir "$T_TMP" -settings-name d42.json \
	>/dev/null 2>"$T_TMP/vg2.log"
rc=$?
kill $emu 2>/dev/null
wait $emu 2>/dev/null
if [ $rc -eq 0 ] && grep -q '3 reports delivered' "$T_TMP/vg2.log"; then
	ok valgrind_delivery_https
else
	fail valgrind_delivery_https "exit $rc: $(grep -v 'd42pcap: info' "$T_TMP/vg2.log" | head -c 800)"
fi
