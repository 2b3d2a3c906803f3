#!/bin/sh
# `make demo`: run the agent on the bundled capture (tests/data/demo.pcapng,
# written by tests/gen_pcap.py: a small office network over three minutes)
# and show what it discovered: each interval's report, then a summary.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
echo "== ./d42pcap -r tests/data/demo.pcapng -settings-dir tests/data -settings-name demo.json"
./d42pcap -r tests/data/demo.pcapng -settings-dir tests/data -settings-name demo.json \
	2>build/demo.ok
echo
echo "== service communications discovered, one line per record per interval"
echo "   (protocol client -> server:port, how the server side was decided, counts to server/to client)"
sed -n 's/^ok: //p' build/demo.ok | sort | uniq
