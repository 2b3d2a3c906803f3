#!/bin/sh
# Every capture of the shared corpus ($CORPUS, listed in MANIFEST.tsv; many
# are fuzzed or malformed) through `d42pcap -r`, with a timeout each:
#  - no crash, hang or sanitizer report; exit status as MANIFEST's tcpdump
#    column predicts (0; 1 with a message for files libpcap refuses; 0 or 1
#    for files libpcap stops reading with an error);
#  - every output line is a well-formed report whose numbers add up, and for
#    files read to the end the packets sum to MANIFEST's packet count;
#  - per-file answers where they are known: decoded packets, IP bytes and
#    SYNs per (client, server, port) equal what tshark finds in a list of
#    files with no tunnels or fragments, and every TCP/UDP flow nDPI lists
#    in $CORPUS/ndpi/result/*.out appears as a communication.
. "$(dirname "$0")/lib.sh"

if ! have_corpus; then
	skip corpus "no corpus at $CORPUS (the shared/ folder beside the repository)"
	exit 0
fi
if [ ! -x "$D42PCAP" ]; then
	fail corpus_binary "no executable $D42PCAP (run make first)"
	exit 1
fi
printf '{"common":{"Interval":60}}\n' >"$T_TMP/x.json"

python3 - "$D42PCAP" "$CORPUS" "$T_TMP" <<'EOF'
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

BIN, CORPUS, TMP = sys.argv[1:4]
TIMEOUT = int(os.environ.get("CORPUS_TIMEOUT", "60"))
REASONS = {"link_unsupported", "link_truncated", "vlan_too_deep", "not_ip", "encap_mpls",
           "encap_pppoe", "ip_truncated", "ip_bad_version", "ip_bad_header_length",
           "ip_bad_total_length", "ip_fragment_not_first", "ipv6_ext_truncated",
           "ipv6_ext_too_many", "ipv4_ah_truncated", "ipv4_ah_too_many", "encap_tunnel", "l4_other", "l4_truncated",
           "tcp_bad_header_length", "udp_bad_length"}
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def out(kind, name, msg=""):
    print("%s %s%s" % (kind, name, ": " + msg if msg else ""), flush=True)


def run(path):
    try:
        p = subprocess.run([BIN, "-r", path, "-settings-dir", TMP, "-settings-name", "x.json"],
                           capture_output=True, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", b"", ""


rows = []
with open(os.path.join(CORPUS, "MANIFEST.tsv")) as f:
    next(f)
    for line in f:
        c = line.rstrip("\n").split("\t")
        rows.append({"path": c[0], "linktype": c[1], "packets": int(c[2]), "note": c[5]})

with cf.ThreadPoolExecutor(max_workers=2) as ex:
    results = list(ex.map(lambda r: run(os.path.join(CORPUS, r["path"])), rows))

crash, status, badjson, counts = [], [], [], []
docs_of = {}
for r, (rc, so, se) in zip(rows, results):
    name, note = r["path"], r["note"]
    if rc == "timeout" or rc < 0 or rc >= 128 or SANITIZER.search(se):
        crash.append("%s (%s%s)" % (name, rc, "; sanitizer" if SANITIZER.search(se) else ""))
        continue
    opened = "FAILS to open" not in note or "unknown data link type" in note
    if not opened:
        # libpcap refuses the file: a clean error, nothing reported
        if rc != 1 or "error" not in se or so:
            status.append("%s: exit %s, expected 1 with a message" % (name, rc))
    elif "read error" in note or "FAILS to open" in note:
        if rc not in (0, 1) or (rc == 1 and "error" not in se):
            status.append("%s: exit %s (read error file)" % (name, rc))
    elif rc != 0:
        status.append("%s: exit %s: %s" % (name, rc, se.strip()[-160:]))
    docs, problems = [], []
    for n, line in enumerate(so.splitlines(), 1):
        try:
            d = json.loads(line)
            a, iv, st, cs = d["agent"], d["interval"], d["stats"], d["communications"]
            assert a["name"] == "d42pcap" and a["interface"].endswith(name), "agent"
            assert iv["start"] <= iv["end"], "interval order"
            und = st["undecoded"]
            assert set(und) <= REASONS and all(v > 0 for v in und.values()), "reasons"
            assert st["decoded"] + sum(und.values()) == st["packets"], "decoded+undecoded"
            assert st["flows"] == len(cs), "flows"
            assert sum(c["packets_to_server"] + c["packets_to_client"] for c in cs) \
                + st["flow_drops"] == st["decoded"], "record packets"
            for c in cs:
                assert c["protocol"] in ("tcp", "udp") and 0 <= c["port"] <= 65535, "record"
                assert len(c["client_ports"]) <= 8, "client ports"
                assert c["first_seen"] <= c["last_seen"], "seen order"
            docs.append(d)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            problems.append("line %d: %s %s" % (n, type(e).__name__, e))
    if docs and any(docs[i]["interval"]["start"] < docs[i - 1]["interval"]["end"]
                    for i in range(1, len(docs))):
        problems.append("intervals overlap or go backwards")
    if problems:
        badjson.append("%s: %s" % (name, "; ".join(problems[:3])))
    docs_of[name] = docs
    got = sum(d["stats"]["packets"] for d in docs)
    if opened and "reads to EOF" in note:
        if got != r["packets"]:
            counts.append("%s: %d packets reported, %d in the file" % (name, got, r["packets"]))
    elif "read error before EOF" in note and shutil.which("tcpdump"):
        # what libpcap read before the error is still reported
        td = subprocess.run(["tcpdump", "-nn", "-tt", "-r", os.path.join(CORPUS, name)],
                            capture_output=True, text=True)
        want = sum(1 for x in td.stdout.splitlines() if x[:1].isdigit())
        if td.returncode in (0, 1) and got != want:
            counts.append("%s: %d packets reported before the read error, tcpdump reads %d"
                          % (name, got, want))
    elif "read error before 1st packet" in note and got:
        counts.append("%s: %d packets reported, libpcap reads none" % (name, got))


def verdict(name, bad, what):
    if bad:
        out("FAIL", name, "%d files: %s" % (len(bad), " | ".join(bad[:15])))
    else:
        out("ok", "%s (%d files)" % (name, len(rows)), "")


verdict("corpus_no_crash", crash, "")
verdict("corpus_exit_status", status, "")
verdict("corpus_reports_well_formed", badjson, "")
verdict("corpus_packet_counts", counts, "")

# ---- tshark cross-check: files whose TCP/UDP is plain (no tunnels, no
# fragments, which tshark reassembles): across link types and formats.
TSHARK_FILES = [
    "ndpi/1kxun.pcap", "ndpi/anydesk.pcapng", "ndpi/tls_heur__shadowsocks-tcp.pcapng",
    "suricata-verify/tcp-fastopen-10-syn-data-ignore/input.pcap",
    "suricata-verify/base64-decode-5885/input.pcap",
    "suricata-verify/bug-4376/syn_retransmit_with_ts.pcap",
    "suricata-verify/decode-sll2-02/input.pcap",
    "tcpdump/mptcp-v0.pcap", "tcpdump/mptcp-v1.pcap", "tcpdump/resp_1_benchmark.pcap",
    "tcpdump/bgp-4byte-asn.pcap", "tcpdump/ssh.pcap", "tcpdump/tcp-handshake-nano.pcap",
    "tcpdump/quic_handshake.pcap", "tcpdump/edns-opts.pcap", "tcpdump/time_2106_overflow.pcapng",
    "wireshark/tls12-dsb.pcapng", "wireshark/dtn_tcpclv4_bpv7_transfer.pcapng",
    "zeek/echo-connections.pcap", "zeek/http/1000-requests-one-dropped-response.pcap",
    "zeek/ldap/ldap_escaping_test.pcapng", "zeek/smtp/smtp-bdat-cmd-invalid.pcapng",
    "zeek/pcapng-multi-interface.pcapng", "zeek/tcp/payload-syn.pcap", "zeek/tunnels/socks.pcap",
    "zeek/smb/dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
    "zeek/chksums/ip6-tcp-good-chksum.pcap", "zeek/vlan-collisions.pcap",
    "zeek/vlan-qinqinq.pcap", "zeek/http-qinq-0.pcap", "zeek/vlan-pcp-dei.pcapng",
    "zeek/ipv6-http-atomic-frag.pcap",
]
FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ipv6.plen", "tcp.srcport",
          "tcp.dstport", "tcp.flags", "udp.srcport"]


def tshark_facts(path):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields"]
    for f in FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    n = nbytes = 0
    syn = Counter()
    for line in p.stdout.splitlines():
        d = dict(zip(FIELDS, line.split("\t")))
        if len(d) < len(FIELDS) or any("," in v for v in d.values()):
            return None             # a second IP layer: not a plain file
        if not d["tcp.srcport"] and not d["udp.srcport"]:
            continue
        n += 1
        if d["ip.src"]:
            nbytes += int(d["ip.len"])
            src, dst = d["ip.src"], d["ip.dst"]
        else:
            nbytes += int(d["ipv6.plen"]) + 40
            src, dst = d["ipv6.src"], d["ipv6.dst"]
        if d["tcp.srcport"] and d["tcp.flags"]:
            fl = int(d["tcp.flags"], 16)
            if fl & 0x02 and not fl & 0x10:
                syn[(src, dst, int(d["tcp.dstport"]))] += 1
    return n, nbytes, dict(syn)


def our_facts(docs):
    n = sum(d["stats"]["decoded"] for d in docs)
    nbytes = sum(c["bytes_to_server"] + c["bytes_to_client"]
                 for d in docs for c in d["communications"])
    conns = Counter()
    for d in docs:
        for c in d["communications"]:
            if c["connections"]:
                conns[(c["client"], c["server"], c["port"])] += c["connections"]
    return n, nbytes, dict(conns)


if not shutil.which("tshark"):
    out("SKIP", "corpus_tshark", "tshark is not installed")
else:
    def one(name):
        return name, tshark_facts(os.path.join(CORPUS, name))
    with cf.ThreadPoolExecutor(max_workers=2) as ex:
        facts = list(ex.map(one, TSHARK_FILES))
    for name, exp in facts:
        tag = "corpus_tshark_" + name
        if name not in docs_of:
            out("FAIL", tag, "not in MANIFEST.tsv")
        elif exp is None:
            out("FAIL", tag, "test defect: tshark sees nested IP layers in this file")
        else:
            got = our_facts(docs_of[name])
            if got == exp:
                out("ok", tag + " (%d TCP/UDP packets, %d SYNs)" % (exp[0], sum(exp[2].values())))
            else:
                diff = {k: (exp[2].get(k), got[2].get(k)) for k in set(exp[2]) | set(got[2])
                        if exp[2].get(k) != got[2].get(k)}
                out("FAIL", tag, "tshark: %d packets, %d bytes; d42pcap: %d, %d; SYNs "
                    "(tshark, d42pcap) differ for %s" % (exp[0], exp[1], got[0], got[1],
                                                         list(diff.items())[:5]))

# ---- nDPI's flow lists: every TCP/UDP flow appears (either orientation).
# Not for files whose flows d42pcap deliberately does not decode.
NDPI_UNDECODED = {
    "BGP_Cisco_hdlc_slarp.pcap": "Cisco HDLC link type",
    "capwap_data.pcapng": "CAPWAP tunnel",
    "discord_mid_flow.pcap": "PPPoE",
    "4in4tunnel.pcap": "IP-in-IP", "ipv6_in_gtp.pcap": "GTP tunnel", "teredo.pcap": "Teredo",
    "dlt_ppp.pcap": "PPP link type",
}
FLOW = re.compile(r"^\s+\d+\s+(TCP|UDP) (\S+) <-> (\S+) ")


def endpoint(s):
    m = re.match(r"^\[(.*)\]:(\d+)$", s) or re.match(r"^(.*):(\d+)$", s)
    return m.group(1), int(m.group(2))


rdir = os.path.join(CORPUS, "ndpi", "result")
if not os.path.isdir(rdir):
    out("SKIP", "corpus_ndpi", "no %s" % rdir)
else:
    for f in sorted(os.listdir(rdir)):
        cap = f[:-len(".out")]
        tag = "corpus_ndpi_" + cap
        if cap in NDPI_UNDECODED:
            out("SKIP", tag, "not decoded by design: " + NDPI_UNDECODED[cap])
            continue
        flows = []
        with open(os.path.join(rdir, f), errors="replace") as fh:
            for line in fh:
                m = FLOW.match(line)
                if m:
                    flows.append((m.group(1).lower(), endpoint(m.group(2)), endpoint(m.group(3))))
        if not flows:
            out("SKIP", tag, "nDPI lists no TCP/UDP flow")
            continue
        recs = {(c["protocol"], c["client"], c["server"], c["port"])
                for d in docs_of.get("ndpi/" + cap, []) for c in d["communications"]}
        miss = [fl for fl in flows
                if (fl[0], fl[1][0], fl[2][0], fl[2][1]) not in recs
                and (fl[0], fl[2][0], fl[1][0], fl[1][1]) not in recs]
        if miss:
            out("FAIL", tag, "%d of %d nDPI flows missing, e.g. %s" % (len(miss), len(flows), miss[:3]))
        else:
            out("ok", tag + " (%d flows)" % len(flows))
EOF
