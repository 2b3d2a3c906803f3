#!/bin/sh
# Delivery to a Device42 appliance: d42pcap against tests/d42_emulator.py over
# HTTPS (normal run, outages and restarts, every fault the emulator injects,
# TLS verification and pinning, sample mode, proxy, password hygiene).
. "$(dirname "$0")/lib.sh"
if ! command -v openssl >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
	skip delivery "needs openssl and python3"
	exit 0
fi
python3 "$TOP/tests/delivery_test.py" "$D42PCAP" "$TOP" "$T_TMP"
