#!/bin/sh
# Integration: `d42pcap -r` on the bundled demo capture and on one generated
# capture per decoder feature (tests/gen_pcap.py suite), compared
#  (a) with the generator's answer file, record by record (gen_pcap.py check:
#      its reference model of the flow rules), and
#  (b) byte for byte with tests/golden/NAME.jsonl after normalising the
#      host name, version and capture directory.
# UPDATE_GOLDEN=1 sh tests/t_golden.sh rewrites the goldens, but only for
# captures whose output agrees with the answer file.
. "$(dirname "$0")/lib.sh"
GOLDEN=$TOP/tests/golden

normalise() {
	sed -e 's/"host":"[^"]*"/"host":""/' -e 's/"version":"[^"]*"/"version":""/' \
	    -e 's|"interface":"[^"]*/|"interface":"|' "$1"
}

if [ ! -x "$D42PCAP" ]; then
	fail golden_binary "no executable $D42PCAP (run make first)"
	exit 1
fi
printf '{"common":{"Interval":60}}\n' >"$T_TMP/x.json"

# run NAME CAPTURE [CONFIG-NAME]: output in $T_TMP/NAME.out, status in $rc
run() {
	"$D42PCAP" -r "$2" -settings-dir "$T_TMP" -settings-name "${3:-x.json}" \
		>"$T_TMP/$1.out" 2>"$T_TMP/$1.err"
	rc=$?
}

# golden_case NAME CAPTURE: (a) and (b) above
golden_case() {
	name=$1 cap=$2
	run "$name" "$cap"
	if [ $rc -ne 0 ]; then
		fail "answer_$name" "exit status $rc: $(head -c 400 "$T_TMP/$name.err")"
		return
	fi
	if $GEN check "$cap.answer.json" "$T_TMP/$name.out" --interface "$cap" \
		>"$T_TMP/$name.diff" 2>&1; then
		ok "answer_$name"
		agrees=1
	else
		fail "answer_$name" "$(head -c 1500 "$T_TMP/$name.diff")"
		agrees=0
	fi
	normalise "$T_TMP/$name.out" >"$T_TMP/$name.norm"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		if [ $agrees = 1 ]; then
			mkdir -p "$GOLDEN"
			cp "$T_TMP/$name.norm" "$GOLDEN/$name.jsonl"
			ok "golden_$name (updated)"
		else
			fail "golden_$name" "not updated: the output disagrees with the answer file"
		fi
	elif [ ! -f "$GOLDEN/$name.jsonl" ]; then
		fail "golden_$name" "no $GOLDEN/$name.jsonl (UPDATE_GOLDEN=1 writes it)"
	elif cmp -s "$GOLDEN/$name.jsonl" "$T_TMP/$name.norm"; then
		ok "golden_$name"
	else
		fail "golden_$name" "differs from tests/golden/$name.jsonl: $(diff "$GOLDEN/$name.jsonl" "$T_TMP/$name.norm" | head -c 1200)"
	fi
}

# The bundled demo is exactly what the generator writes (it is deterministic),
# so its answer file can be made at test time instead of being committed.
$GEN demo "$T_TMP/demo.pcapng"
if cmp -s "$T_TMP/demo.pcapng" "$TOP/tests/data/demo.pcapng"; then
	ok golden_demo_is_generated
else
	fail golden_demo_is_generated "tests/data/demo.pcapng differs from 'gen_pcap.py demo' output (regenerate it)"
fi
sz=$(wc -c <"$TOP/tests/data/demo.pcapng")
if [ "$sz" -lt 65536 ]; then ok golden_demo_small; else fail golden_demo_small "$sz bytes"; fi
cp "$T_TMP/demo.pcapng.answer.json" "$T_TMP/data_demo.answer.json"

# The committed demo file itself, through the answer of the regenerated one.
run demo "$TOP/tests/data/demo.pcapng"
if [ $rc -eq 0 ] && $GEN check "$T_TMP/data_demo.answer.json" "$T_TMP/demo.out" \
	--interface "$TOP/tests/data/demo.pcapng" >"$T_TMP/demo.diff" 2>&1; then
	ok answer_bundled_demo
else
	fail answer_bundled_demo "exit $rc: $(head -c 1500 "$T_TMP/demo.diff") $(head -c 300 "$T_TMP/demo.err")"
fi

golden_case demo "$T_TMP/demo.pcapng"

# Other interval lengths cut the same packets differently.
for iv in 1 30 3600; do
	printf '{"common":{"Interval":%s}}\n' "$iv" >"$T_TMP/iv$iv.json"
	run "demo_iv$iv" "$T_TMP/demo.pcapng" "iv$iv.json"
	if [ $rc -eq 0 ] && $GEN check "$T_TMP/demo.pcapng.answer.json" "$T_TMP/demo_iv$iv.out" \
		-c "$T_TMP/iv$iv.json" >"$T_TMP/iv.diff" 2>&1; then
		ok "answer_demo_interval_$iv"
	else
		fail "answer_demo_interval_$iv" "exit $rc: $(head -c 1500 "$T_TMP/iv.diff")"
	fi
done

# Listeners expiring within the capture (a 20 s TTL, 10 s intervals): the
# rules and the "listeners" count at each interval's end follow the model.
printf '{"common":{"Interval":10,"listener-ttl":20}}\n' >"$T_TMP/ttl.json"
run demo_ttl "$T_TMP/demo.pcapng" ttl.json
if [ $rc -eq 0 ] && $GEN check "$T_TMP/demo.pcapng.answer.json" "$T_TMP/demo_ttl.out" \
	-c "$T_TMP/ttl.json" >"$T_TMP/ttl.diff" 2>&1; then
	ok answer_demo_listener_ttl
else
	fail answer_demo_listener_ttl "exit $rc: $(head -c 1500 "$T_TMP/ttl.diff")"
fi

mkdir -p "$T_TMP/suite"
$GEN suite "$T_TMP/suite"

# The generator's own output: tcpdump reads every packet, tshark finds no
# malformed packet and no bad checksum where none was meant.
if command -v tshark >/dev/null 2>&1 && command -v tcpdump >/dev/null 2>&1; then
	check golden_captures_valid $GEN validate "$T_TMP/demo.pcapng" "$T_TMP"/suite/*.pcap \
		"$T_TMP"/suite/*.pcapng
else
	skip golden_captures_valid "tshark or tcpdump is not installed"
fi
for cap in "$T_TMP"/suite/*.pcap "$T_TMP"/suite/*.pcapng; do
	golden_case "$(basename "$cap")" "$cap"
done

# A golden without a capture is a stale file.
for g in "$GOLDEN"/*.jsonl; do
	[ -f "$g" ] || continue
	n=$(basename "$g" .jsonl)
	[ "$n" = demo ] || [ -f "$T_TMP/suite/$n" ] || fail "golden_stale_$n" "no capture named $n"
done

# A quiet agent holds packets and accounts them together; once an
# interval's records outgrow the caches (flow_wants_probes(), which
# test_flow shows holds at 10,000 records, not at 8,000), it also probes
# the tables ahead of the updates. A loud one (-debug logs every new
# record) never holds any. The reports must be
# the same, on the bench generator's mix (handshakes, mid-stream, UDP, VLAN,
# IPv6) of 50,000 flows over three 1-second intervals (about 43,000 records
# each).
GENCAP=$TOP/build/bench/gencap
if [ ! -x "$GENCAP" ]; then
	skip golden_probing_ahead_same "no $GENCAP (make check builds it)"
elif ! "$GENCAP" -o "$T_TMP/many.pcap" -n 300000 -f 50000 -p small -s 7 2>"$T_TMP/gencap.err"; then
	fail golden_probing_ahead_same "gencap: $(cat "$T_TMP/gencap.err")"
else
	printf '{"common":{"Interval":1,"max-flows":65536}}\n' >"$T_TMP/many.json"
	run many_quiet "$T_TMP/many.pcap" many.json
	rq=$rc
	"$D42PCAP" -debug -r "$T_TMP/many.pcap" -settings-dir "$T_TMP" -settings-name many.json \
		>"$T_TMP/many_loud.out" 2>/dev/null
	nrep=$(python3 -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["stats"]["flows"] >= 40000 and
          json.loads(l)["stats"]["flow_drops"] == 0))' "$T_TMP/many_quiet.out" 2>/dev/null)
	if [ $rq -eq 0 ] && [ "${nrep:-0}" -ge 3 ] && cmp -s "$T_TMP/many_quiet.out" "$T_TMP/many_loud.out"; then
		ok golden_probing_ahead_same
	else
		fail golden_probing_ahead_same "exit $rq, $nrep reports of >= 40000 flows;" \
			"$(cmp "$T_TMP/many_quiet.out" "$T_TMP/many_loud.out" 2>&1)"
	fi
fi
