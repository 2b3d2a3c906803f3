#!/bin/sh
# Live delivery, inside a network namespace this test creates: the agent
# captures on the namespace's loopback while the Device42 emulator listens
# there too. A stalled appliance must not cost a packet; a server unknown to
# the appliance is retried in later intervals until it is known.
. "$(dirname "$0")/lib.sh"
if ! is_root || ! command -v ip >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
	skip delivery_live "needs root, iproute2 and openssl"
	exit 0
fi
NS=d42dlv$$
lo_ns "$NS" || { fail delivery_live "cannot create a network namespace"; exit 0; }
ip netns exec "$NS" python3 "$TOP/tests/delivery_test.py" "$D42PCAP" "$TOP" "$T_TMP" live
