#!/usr/bin/env python3
"""Deterministic test-capture generator for d42pcap (python3 stdlib only).

Writes pcap (us/ns, either byte order) and pcapng (SHB/IDB/EPB, if_tsresol,
either byte order) files and, beside each, <capture>.answer.json: the
ground truth of every packet it wrote (decoded tuple or the reason it cannot
be decoded) and the reports d42pcap must print for it. The reports come from
a small reference model of the rules in src/flow.h and the filter rules,
written independently of the C code; `check` compares a d42pcap run with it.

  gen_pcap.py demo OUT            the bundled demo capture (office network)
  gen_pcap.py suite DIR           one capture per decoder feature
  gen_pcap.py flows N OUT         N distinct one-packet flows (table-full tests)
  gen_pcap.py filters OUT         traffic for every include/ignore key
  gen_pcap.py optbug OUT          three IPv6 UDP packets a libpcap 1.10.3
                                  optimiser bug keeps (t_filters.sh)
  gen_pcap.py ah4filter DIR       TCP to two ports behind IPv4 AH: Ethernet,
                                  VLAN, cooked (t_filters.sh)
  gen_pcap.py expect ANSWER [-c CONFIG]         print the expected report lines
  gen_pcap.py check ANSWER OUTPUT [-c CONFIG] [--interface PATH]
                                  compare d42pcap output with the model; exit 1
                                  on any difference (printed)
  gen_pcap.py validate FILE...    tshark/tcpdump sanity check of written files
"""
import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import time

# ---------------------------------------------------------------- constants

LT_NULL, LT_EN10MB, LT_RAW, LT_LOOP = 0, 1, 101, 108
LT_SLL, LT_IPV4, LT_IPV6, LT_SLL2 = 113, 228, 229, 276
LT_USER0 = 147  # a link type d42pcap does not decode

ET_IP4, ET_ARP, ET_IP6 = 0x0800, 0x0806, 0x86DD
ET_8021Q, ET_8021AD, ET_QINQ_OLD = 0x8100, 0x88A8, 0x9100
ET_MPLS, ET_PPPOE_D, ET_PPPOE_S, ET_LLDP = 0x8847, 0x8863, 0x8864, 0x88CC

P_HOPOPT, P_ICMP, P_IPIP, P_TCP, P_UDP = 0, 1, 4, 6, 17
P_IPV6, P_ROUTING, P_FRAG, P_GRE, P_ICMP6, P_NONE, P_DSTOPTS = 41, 43, 44, 47, 58, 59, 60
P_ESP, P_AH = 50, 51

F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

NS = 1000000000
US = 1000
MS = 1000000

# Reasons as named in src/decode.h (DEC_REASONS), in report order.
REASONS = ["link_unsupported", "link_truncated", "vlan_too_deep", "not_ip",
           "encap_mpls", "encap_pppoe", "ip_truncated", "ip_bad_version",
           "ip_bad_header_length", "ip_bad_total_length", "ip_fragment_not_first",
           "ipv6_ext_truncated", "ipv6_ext_too_many", "ipv4_ah_truncated",
           "ipv4_ah_too_many", "encap_tunnel", "l4_other",
           "l4_truncated", "tcp_bad_header_length", "udp_bad_length"]

# Model of src/flow.h (see flow.c for the well-known port list).
HOW = ["syn", "synack", "listener", "wellknown", "ephemeral", "lower_port"]
EPHEMERAL_MIN = 32768
MAX_CLIENT_PORTS = 8


def wellknown(port):
    """How strongly d42pcap takes a port for a service (flow_is_wellknown):
    0 not, 1 reserved ports clients bind too (512-1023), 2 the others."""
    if 512 <= port < 1024:
        return 1
    return 2 if 0 < port < 512 or port in WELLKNOWN_EXTRA else 0


# The registered ports src/flow.c also counts as well-known (kept in step by
# hand: a change there shows up here as a direction mismatch).
WELLKNOWN_EXTRA = frozenset((1194, 1433, 1521, 1812, 1883, 2049, 2181, 2379, 3268, 3306,
                             3389, 5060, 5432, 5672, 5900, 5985, 5986, 6379, 6443, 8080,
                             8443, 9092, 9200, 9418, 11211, 27017))

# ---------------------------------------------------------------- checksums


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def addr(a):
    return ipaddress.ip_address(a)


def pseudo(src, dst, proto, length):
    s, d = addr(src), addr(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)

# ---------------------------------------------------------------- L4


def tcp_hdr(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240,
            options=b"", doff=None, cksum=True):
    options += b"\0" * (-len(options) % 4)
    hl = 20 + len(options)
    d = hl // 4 if doff is None else doff
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    d << 4, flags, window, 0, 0) + options
    seg = h + payload
    if cksum:
        c = csum(pseudo(src, dst, P_TCP, len(seg)) + seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return seg


def udp_hdr(src, dst, sport, dport, payload=b"", length=None):
    ln = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ln, 0) + payload
    c = csum(pseudo(src, dst, P_UDP, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp_echo(ident, seq, data=b"abcdefghijklmnopqrstuvwabcdefghi", reply=False):
    h = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def icmp6_echo(src, dst, ident, seq, data=b"0123456789abcdef", reply=False):
    h = struct.pack("!BBHHH", 129 if reply else 128, 0, 0, ident, seq) + data
    c = csum(pseudo(src, dst, P_ICMP6, len(h)) + h)
    return h[:2] + struct.pack("!H", c) + h[4:]

# ---------------------------------------------------------------- L3


def ah_hdr(nh, icv=12, spi=0x100, seq=1):
    """IPsec AH (RFC 4302): next header, length (n+2)*4, SPI, sequence, ICV
    (zeros: nothing checks it)."""
    return struct.pack("!BBHII", nh, (12 + icv) // 4 - 2, 0, spi, seq) + bytes(icv)


def ipv4(src, dst, proto, payload, ident=0, ttl=64, df=True, mf=False, frag=0,
         options=b"", ihl=None, total=None, version=4, tos=0, ah=()):
    """ah: ICV lengths of AH headers (transport mode) before the payload,
    outermost first."""
    for icv in reversed(list(ah)):
        payload = ah_hdr(proto, icv) + payload
        proto = P_AH
    options += b"\0" * (-len(options) % 4)
    hl = 20 + len(options)
    tl = hl + len(payload) if total is None else total
    ff = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag // 8)
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ((hl // 4) if ihl is None else ihl),
                    tos, tl, ident, ff, ttl, proto, 0,
                    addr(src).packed, addr(dst).packed) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def v6ext(kind, nh, body=b""):
    """One IPv6 extension header (hop-by-hop, routing, dst options)."""
    raw = bytes([nh, 0]) + body
    raw += b"\0" * (-len(raw) % 8)
    if kind in (P_HOPOPT, P_DSTOPTS) and len(raw) > 2:
        pad = len(raw) - 2 - len(body)
        if pad == 1:
            raw = raw[:-1] + b"\0"          # Pad1
        elif pad >= 2:
            raw = raw[:2 + len(body)] + bytes([1, pad - 2]) + b"\0" * (pad - 2)
    return bytes([nh, len(raw) // 8 - 1]) + raw[2:]


def ext_hbh(nh):
    return v6ext(P_HOPOPT, nh, bytes([5, 2, 0, 0]))        # router alert


def ext_dst(nh):
    return v6ext(P_DSTOPTS, nh, b"")                         # PadN only


def ext_srh(nh, seg):
    """Segment routing header (routing type 4), one segment, segments left 0."""
    body = bytes([4, 0, 0, 0]) + b"\0\0" + addr(seg).packed     # type, left, last, flags, tag
    return bytes([nh, (2 + len(body)) // 8 - 1]) + body


def ext_frag(nh, offset, more, ident):
    return struct.pack("!BBHI", nh, 0, (offset // 8) << 3 | (1 if more else 0), ident)


def ipv6(src, dst, nh, payload, exts=(), hlim=64, plen=None, version=6):
    """exts: list of (type, builder(next_header) -> bytes), outermost first."""
    chain = b""
    nxt = nh
    for typ, build in reversed(list(exts)):
        chain = build(nxt) + chain
        nxt = typ
    body = chain + payload
    pl = len(body) if plen is None else plen
    h = struct.pack("!IHBB16s16s", (version << 28), pl, nxt, hlim,
                    addr(src).packed, addr(dst).packed)
    return h + body


def family(a):
    return addr(a).version

# ---------------------------------------------------------------- packets


class P:
    """One packet above the link layer plus the truth about it.

    l3: bytes after the link header; etype: what the link header announces;
    meta: {"reason": "ok", fam, proto, src, dst, sport, dport, flags, ip_len}
    or {"reason": R}; link: per-packet link options (vlans, caplen, frame)."""
    __slots__ = ("ts", "l3", "etype", "meta", "link")

    def __init__(self, ts, l3, etype, meta, **link):
        self.ts, self.l3, self.etype, self.meta, self.link = int(ts), l3, etype, meta, link


def ok_meta(src, dst, proto, sport, dport, flags, ip_len):
    return {"reason": "ok", "fam": family(src), "proto": proto, "src": str(addr(src)),
            "dst": str(addr(dst)), "sport": sport, "dport": dport, "flags": flags,
            "ip_len": ip_len}


def ip_wrap(src, dst, proto, seg, exts=(), **kw):
    if family(src) == 4:
        pkt = ipv4(src, dst, proto, seg, **kw)
        return pkt, ET_IP4, len(pkt)
    pkt = ipv6(src, dst, proto, seg, exts=exts, **kw)
    return pkt, ET_IP6, len(pkt)


def tcp_pkt(ts, src, dst, sport, dport, flags, seq=0, ack=0, payload=b"",
            exts=(), ipkw=None, **link):
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07" if flags & F_SYN else b""
    seg = tcp_hdr(src, dst, sport, dport, seq, ack, flags, payload, options=opts)
    l3, et, ln = ip_wrap(src, dst, P_TCP, seg, exts, **(ipkw or {}))
    return P(ts, l3, et, ok_meta(src, dst, P_TCP, sport, dport, flags, ln), **link)


def udp_pkt(ts, src, dst, sport, dport, payload=b"", exts=(), ipkw=None, **link):
    seg = udp_hdr(src, dst, sport, dport, payload)
    l3, et, ln = ip_wrap(src, dst, P_UDP, seg, exts, **(ipkw or {}))
    return P(ts, l3, et, ok_meta(src, dst, P_UDP, sport, dport, 0, ln), **link)


def bad(ts, l3, etype, reason, **link):
    return P(ts, l3, etype, {"reason": reason}, **link)

# ---------------------------------------------------------------- app payloads


def dns_query(qid, name, qtype=1):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def dns_answer(qid, name, ip):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    a = addr(ip)
    qtype = 1 if a.version == 4 else 28
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + struct.pack("!HH", qtype, 1)
            + struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(a.packed)) + a.packed)


def ntp_msg(mode, ts):
    sec = ts // NS + 2208988800
    frac = (ts % NS) * (1 << 32) // NS
    stratum = 0 if mode == 3 else 2
    return (struct.pack("!BBbb", (0 << 6) | (4 << 3) | mode, stratum, 6, -20)
            + struct.pack("!II4s", 0, 0, b"\0\0\0\0" if mode == 3 else b"GPS\0")
            + struct.pack("!II", sec, frac) * 4)


def http_app(host, paths):
    def app(i):
        p = paths[i % len(paths)]
        body = ("<html>%s %d</html>\n" % (p, i)).encode()
        return (("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: curl/7.88\r\n\r\n" % (p, host)).encode(),
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)
    return app


def tls_app(rng, sizes=(64, 200)):
    def rec(n):
        return b"\x17\x03\x03" + struct.pack("!H", n) + bytes(rng.getrandbits(8) for _ in range(n))
    return lambda i: (rec(sizes[0] + 16 * (i % 3)), rec(sizes[1] + 24 * (i % 4)))


def pg_app():
    def app(i):
        if i == 0:
            params = b"user\0app\0database\0inventory\0\0"
            return (struct.pack("!II", 8 + len(params), 196608) + params,
                    b"R" + struct.pack("!II", 8, 0) + b"Z" + struct.pack("!I", 5) + b"I")
        q = b"SELECT id FROM hosts WHERE rack=%d;\0" % i
        done = b"SELECT 1\0"
        return (b"Q" + struct.pack("!I", 4 + len(q)) + q,
                b"C" + struct.pack("!I", 4 + len(done)) + done + b"Z" + struct.pack("!I", 5) + b"I")
    return app


def ldap_app():
    bind = bytes.fromhex("300c020101600702010304008000")
    bind_ok = bytes.fromhex("300c02010161070a010004000400")
    return lambda i: (bind, bind_ok)


def ssh_app():
    def pkt(code, n=10):
        body = bytes([code]) + b"\0" * 0
        return struct.pack("!IB", 1 + len(body) + n, n) + body + b"\0" * n

    def app(i):
        if i == 0:
            return b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n"
        return pkt(2, 10), pkt(2, 14)      # SSH_MSG_IGNORE, valid framing
    return app


def smb_app():
    def smb2(cmd, resp, mid):
        h = (b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, cmd, 1, 1 if resp else 0, 0)
             + struct.pack("<QIIQ", mid, 0xFEFF, 0, 0) + b"\0" * 16)
        body = struct.pack("<HH", 4, 0)
        m = h + body
        return struct.pack("!I", len(m)) + m
    return lambda i: (smb2(13, False, i + 1), smb2(13, True, i + 1))


def raw_app(req=b"ping\n", resp=b"pong\n"):
    return lambda i: (req, resp)


def port_app(port, t0):
    """A payload that tshark's dissector for a UDP service port accepts."""
    if port == 53:
        return lambda i: (dns_query(0x100 + i, "host%d.test" % i),
                          dns_answer(0x100 + i, "host%d.test" % i, "192.0.2.%d" % (i + 1)))
    if port == 123:
        return lambda i: (ntp_msg(3, t0), ntp_msg(4, t0))
    return raw_app()


def dns_txt_answer(qid, name, size):
    """A DNS response with TXT records, about size bytes (fragments in IPv4)."""
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    ans, n = b"", 0
    while len(ans) < size:
        txt = bytes([200]) + (b"v=spf1 include:%d.example.com " % n).ljust(200, b"~")
        ans += struct.pack("!HHHIH", 0xC00C, 16, 1, 300, len(txt)) + txt
        n += 1
    return struct.pack("!HHHHHH", qid, 0x8180, 1, n, 0, 0) + q + struct.pack("!HH", 16, 1) + ans

# ---------------------------------------------------------------- scenarios


def tcp_session(client, cport, server, sport, t0, n_data, handshake=True, close=True,
                app=None, rtt=2 * MS, gap=400 * MS, rng=None, exts=(), **link):
    """A TCP connection seen near the client: handshake, n_data request/response
    exchanges, FIN/FIN/ACK. Without handshake the capture starts mid-stream."""
    rng = rng or random.Random(cport ^ sport)
    app = app or raw_app()
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    t = t0
    out = []

    def c2s(flags, payload=b""):
        nonlocal cs
        out.append(tcp_pkt(t, client, server, cport, sport, flags, cs, ss if flags & F_ACK else 0,
                           payload, exts, **link))
        cs += len(payload) + (1 if flags & (F_SYN | F_FIN) else 0)

    def s2c(flags, payload=b""):
        nonlocal ss
        out.append(tcp_pkt(t, server, client, sport, cport, flags, ss, cs, payload, exts, **link))
        ss += len(payload) + (1 if flags & (F_SYN | F_FIN) else 0)

    if handshake:
        c2s(F_SYN)
        t += rtt
        s2c(F_SYN | F_ACK)
        t += 30 * US
        c2s(F_ACK)
        t += 200 * US
    for i in range(n_data):
        req, resp = app(i)
        c2s(F_PSH | F_ACK, req)
        t += rtt
        s2c(F_PSH | F_ACK, resp)
        t += 40 * US
        c2s(F_ACK)
        t += gap
    if close:
        c2s(F_FIN | F_ACK)
        t += rtt
        s2c(F_FIN | F_ACK)
        t += 30 * US
        c2s(F_ACK)
    return out


def udp_exchange(client, cport, server, sport, t0, n, app=None, rtt=1 * MS, gap=1 * NS,
                 reply=True, **link):
    app = app or port_app(sport, t0)
    out = []
    t = t0
    for i in range(n):
        req, resp = app(i)
        out.append(udp_pkt(t, client, server, cport, sport, req, **link))
        if reply:
            out.append(udp_pkt(t + rtt, server, client, sport, cport, resp, **link))
        t += gap
    return out


def dns_lookups(client, server, t0, names, rng, gap=2 * NS, **link):
    out = []
    t = t0
    for name, ip in names:
        qid, cport = rng.getrandbits(16), rng.randrange(33000, 60999)
        out.append(udp_pkt(t, client, server, cport, 53, dns_query(qid, name), **link))
        out.append(udp_pkt(t + 700 * US, server, client, 53, cport,
                           dns_answer(qid, name, ip), **link))
        t += gap
    return out


def ntp_poll(client, cport, server, t0, n, gap=16 * NS, **link):
    out = []
    t = t0
    for _ in range(n):
        out.append(udp_pkt(t, client, server, cport, 123, ntp_msg(3, t), **link))
        out.append(udp_pkt(t + 900 * US, server, client, 123, cport, ntp_msg(4, t), **link))
        t += gap
    return out

# ---------------------------------------------------------------- link layer


def mac(i):
    return bytes([0x02, 0x42, 0x0a, (i >> 16) & 255, (i >> 8) & 255, i & 255])


def mac_of(ip):
    return mac(int.from_bytes(addr(ip).packed[-3:], "big"))


def l3_addrs(p):
    m = p.meta
    return m.get("src"), m.get("dst")


def eth_frame(p, pad=True):
    src, dst = l3_addrs(p)
    smac = p.link.get("smac") or (mac_of(src) if src else mac(0xfffffe))
    dmac = p.link.get("dmac") or (mac_of(dst) if dst else b"\xff" * 6)
    tags = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in p.link.get("vlans", ()))
    f = dmac + smac + tags + struct.pack("!H", p.etype) + p.l3
    if pad and len(f) < 60:
        f += b"\0" * (60 - len(f))
    return f


def sll_frame(p):
    src, _ = l3_addrs(p)
    smac = mac_of(src) if src else mac(1)
    return struct.pack("!HHH8sH", 0 if p.link.get("inbound", True) else 4, 1, 6,
                       smac + b"\0\0", p.etype) + p.l3


def sll2_frame(p):
    src, _ = l3_addrs(p)
    smac = mac_of(src) if src else mac(1)
    return struct.pack("!HHIHBB8s", p.etype, 0, 2, 1, 0 if p.link.get("inbound", True) else 4,
                       6, smac + b"\0\0") + p.l3


AF_INET = 2
AF_INET6_VALUES = (24, 28, 30)    # NetBSD/OpenBSD, FreeBSD, Darwin


def null_frame(p, endian):
    fam = p.link.get("af")
    if fam is None:
        fam = AF_INET if p.etype == ET_IP4 else (AF_INET6_VALUES[0] if p.etype == ET_IP6 else 99)
    return struct.pack(p.link.get("af_endian", endian) + "I", fam) + p.l3


def loop_frame(p):
    fam = p.link.get("af")
    if fam is None:
        fam = AF_INET if p.etype == ET_IP4 else (AF_INET6_VALUES[1] if p.etype == ET_IP6 else 99)
    return struct.pack("!I", fam) + p.l3


# What the kernel filter passes whatever the lists, any filter key set
# (src/filter.c): it cannot judge it, the decoder can.
FILTER_V6_EXT = (P_HOPOPT, P_ROUTING, P_FRAG, P_AH, P_DSTOPTS)
FILTER_COOKED_TAGGED = (ET_8021Q, ET_8021AD, ET_QINQ_OLD)
FILTER_VLAN_TAGS = 2        # what libpcap's vlan reads in the expression
LINK_HDR = {LT_SLL: 16, LT_SLL2: 20, LT_NULL: 4, LT_LOOP: 4}


def kernel_passes(p, linktype, caplen):
    """Whether the kernel filter passes p whatever the lists: IPv4 carrying
    AH, IPv6 whose first next header is an extension header, Ethernet
    frames under more than two VLAN tags, tagged frames in cooked captures.
    Only asked of packets that do not decode: the others the lists judge
    alike in the kernel and after decoding. Not modelled: with the lists in
    the kernel, ignore-ips still drops such a packet by its IP addresses
    (none of the captures filtered with ignore-ips has one)."""
    if "frame" in p.link:
        return False
    tags = len(p.link.get("vlans", ()))
    if linktype == LT_EN10MB:
        if tags > FILTER_VLAN_TAGS:
            return True
        off = 14 + 4 * tags
    else:
        if linktype in (LT_SLL, LT_SLL2) and p.etype in FILTER_COOKED_TAGGED:
            return True
        off = LINK_HDR.get(linktype, 0)
    ip = p.l3[:max(0, caplen - off)]
    if linktype in (LT_RAW, LT_IPV4, LT_IPV6):
        fam = ip[0] >> 4 if ip else 0
    else:
        fam = {ET_IP4: 4, ET_IP6: 6}.get(p.etype, 0)
    if fam == 4:
        return len(ip) > 9 and ip[9] == P_AH
    if fam == 6:
        return len(ip) > 6 and ip[6] in FILTER_V6_EXT
    return False


def frame(p, linktype, endian):
    if "frame" in p.link:
        return p.link["frame"]
    if linktype == LT_EN10MB:
        return eth_frame(p, p.link.get("pad", True))
    if linktype == LT_SLL:
        return sll_frame(p)
    if linktype == LT_SLL2:
        return sll2_frame(p)
    if linktype == LT_NULL:
        return null_frame(p, endian)
    if linktype == LT_LOOP:
        return loop_frame(p)
    if linktype in (LT_RAW, LT_IPV4, LT_IPV6, LT_USER0):
        return p.l3
    raise ValueError("link type %d" % linktype)

# ---------------------------------------------------------------- writers


class Capture:
    def __init__(self, linktype=LT_EN10MB, fmt="pcap", endian="<", ns=False, snaplen=65535,
                 comment="", tsresol=None, tsoffset=None):
        """tsresol (pcapng): if_tsresol as a power of ten, 0-9 (units of
        1 s to 1 ns); None: microseconds, or nanoseconds with ns.
        tsoffset (pcapng): if_tsoffset, signed seconds added to every
        stamp by the reader (not by the answer)."""
        self.linktype, self.fmt, self.endian, self.ns = linktype, fmt, endian, ns
        self.snaplen, self.comment, self.tsresol = snaplen, comment, tsresol
        self.tsoffset = tsoffset
        self.pkts = []

    def add(self, pkts):
        if isinstance(pkts, P):
            pkts = [pkts]
        self.pkts.extend(pkts)
        return self

    def _records(self):
        """(ts_ns, caplen, origlen, data, meta) in file order (sorted by time,
        stable). Timestamps are cut to the file's resolution here, so the
        answer holds exactly what the file says."""
        recs = []
        for p in sorted(self.pkts, key=lambda q: q.ts):
            f = frame(p, self.linktype, self.endian)
            ts = p.ts if self.ns else p.ts - p.ts % US
            orig = p.link.get("origlen", len(f))
            cap = min(p.link.get("caplen", len(f)), self.snaplen, len(f))
            m = p.meta
            if m["reason"] != "ok":
                m = dict(m, kernel_pass=kernel_passes(p, self.linktype, cap))
            recs.append((ts, cap, orig, f[:cap], m))
        return recs

    def write(self, path, answer=True):
        recs = self._records()
        e = self.endian
        out = bytearray()
        if self.fmt == "pcap":
            magic = 0xA1B23C4D if self.ns else 0xA1B2C3D4
            out += struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, self.snaplen, self.linktype)
            for ts, cap, orig, data, _ in recs:
                frac = ts % NS if self.ns else (ts % NS) // US
                out += struct.pack(e + "IIII", ts // NS, frac, cap, orig) + data
        else:
            out += pcapng_block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
                                + pcapng_opts(e, [(4, b"gen_pcap.py (d42pcap tests)")]))
            idb_opts = [(2, b"gen0")]
            if self.tsresol is not None:
                idb_opts.append((9, bytes([self.tsresol])))
            elif self.ns:
                idb_opts.append((9, bytes([9])))
            if self.tsoffset is not None:
                idb_opts.append((14, struct.pack(e + "q", self.tsoffset)))
            out += pcapng_block(e, 1, struct.pack(e + "HHI", self.linktype, 0, self.snaplen)
                                + pcapng_opts(e, idb_opts))
            for ts, cap, orig, data, _ in recs:
                if self.tsresol is not None:
                    units = ts // 10 ** (9 - self.tsresol)
                else:
                    units = ts if self.ns else ts // US
                body = struct.pack(e + "IIIII", 0, units >> 32, units & 0xFFFFFFFF, cap, orig)
                body += data + b"\0" * (-len(data) % 4)
                out += pcapng_block(e, 6, body)
        with open(path, "wb") as f:
            f.write(out)
        if answer:
            with open(path + ".answer.json", "w") as f:
                json.dump(self.answer(path, recs), f, separators=(",", ":"), sort_keys=False)
                f.write("\n")
        return path

    def answer(self, path, recs=None):
        recs = recs if recs is not None else self._records()
        rows = []
        for ts, cap, orig, data, m in recs:
            if m["reason"] == "ok":
                rows.append([ts, orig, "ok", m["fam"], m["proto"], m["src"], m["dst"],
                             m["sport"], m["dport"], m["flags"], m["ip_len"]])
            else:
                rows.append([ts, orig, m["reason"], m["kernel_pass"]])
        undec = {}
        for r in rows:
            if r[2] != "ok":
                undec[r[2]] = undec.get(r[2], 0) + 1
        return {"capture": os.path.basename(path), "format": self.fmt,
                "endian": "big" if self.endian == ">" else "little",
                "resolution": "ns" if self.ns else "us", "linktype": self.linktype,
                "comment": self.comment,
                "packets": len(rows), "bytes": sum(r[1] for r in rows),
                "undecoded": {k: undec[k] for k in REASONS if k in undec},
                "tshark_malformed": [i for i, r in enumerate(recs, 1)
                                     if r[4].get("tshark_malformed")],
                "records_format": "[ts_ns, wire_len, reason, family, proto, src, dst, "
                                  "sport, dport, tcp_flags, ip_len]; undecodable: "
                                  "[ts_ns, wire_len, reason, kernel_filter_passes]",
                "records": rows,
                # the whole capture as one interval: per (client, server,
                # port, protocol) connections, packets, bytes, client ports,
                # first/last seen
                "totals": totals(rows),
                "expected_interval_60": expect(rows, {"common": {"Interval": 60}})}


def totals(rows):
    docs = expect(rows, {"common": {"Interval": 10 ** 9}})
    if not docs:
        return {}
    d = docs[0]
    return {"first": iso_us(rows[0][0]), "last": iso_us(rows[-1][0]), "stats": d["stats"],
            "communications": d["communications"]}


def pcapng_opts(e, opts):
    b = b""
    for code, val in opts:
        b += struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)
    return b + struct.pack(e + "HH", 0, 0)


def pcapng_block(e, typ, body):
    n = 12 + len(body)
    return struct.pack(e + "II", typ, n) + body + struct.pack(e + "I", n)

# ---------------------------------------------------------------- reference model


def cfg_get(d, key, default=None):
    if not isinstance(d, dict):
        return default
    for k, v in d.items():
        if k.lower() == key.lower():
            return v
    return default


def cfg_list(sec, key):
    v = cfg_get(sec, key, [])
    if isinstance(v, str):
        v = [x.strip() for x in v.split(",") if x.strip()]
    return list(v)


def cfg_bool(sec, key):
    v = cfg_get(sec, key, False)
    return v is True or (isinstance(v, str) and v.lower() == "true")


def make_filter(cfg):
    """The BPF the agent compiles from the config, as a predicate on a record
    row; None when no filter key is set (every packet counted)."""
    pc, cp = cfg_get(cfg, "pcap", {}), cfg_get(cfg, "capture", {})
    ports = {k: set(int(x) for x in cfg_list(pc, k)) for k in (
        "include-source-tcp-ports", "include-destination-tcp-ports",
        "include-source-udp-ports", "include-destination-udp-ports")}
    nets = {k: [ipaddress.ip_network(x, strict=False) for x in cfg_list(pc, k)] for k in (
        "include-source-tcp-ips", "include-dest-tcp-ips",
        "include-source-udp-ips", "include-dest-udp-ips")}
    ign_tcp, ign_udp = cfg_bool(pc, "ignore-tcp"), cfg_bool(pc, "ignore-udp")
    ign_ips = [ipaddress.ip_network(x, strict=False) for x in cfg_list(cp, "ignore-ips")]
    ign_ports = set(int(x) for x in cfg_list(cp, "ignore-ports"))
    if not (any(ports.values()) or any(nets.values()) or ign_tcp or ign_udp
            or ign_ips or ign_ports):
        return None

    def innet(a, lst):
        ip = addr(a)
        return any(ip.version == n.version and ip in n for n in lst)

    def f(r):
        if r[2] != "ok":
            # what the kernel filter cannot judge passes it (kernel_passes:
            # deep VLAN tags, IPv4 AH, IPv6 extension headers): counted as
            # undecodable; the rest is taken as dropped unseen
            return r[3]
        proto, src, dst, sp, dp = r[4], r[5], r[6], r[7], r[8]
        if innet(src, ign_ips) or innet(dst, ign_ips):
            return False
        if sp in ign_ports or dp in ign_ports:
            return False
        p = "tcp" if proto == P_TCP else "udp"
        if (ign_tcp and p == "tcp") or (ign_udp and p == "udp"):
            return False
        sps, dps = ports["include-source-%s-ports" % p], ports["include-destination-%s-ports" % p]
        if (sps or dps) and not (sp in sps or dp in dps):
            return False
        sns, dns = nets["include-source-%s-ips" % p], nets["include-dest-%s-ips" % p]
        if (sns or dns) and not (innet(src, sns) or innet(dst, dns)):
            return False
        return True
    return f


def iso_s(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def iso_us(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // NS)) + ".%06dZ" % (ns % NS // US)


def sortkey_addr(a):
    return addr(a).packed + b"\0" * (16 - len(addr(a).packed))


def is_group(a):
    """Multicast or an IPv4 broadcast (the limited one, or any address
    ending in .255: a /24-or-wider subnet's): never a sender."""
    return addr(a).is_multicast or (addr(a).version == 4 and a.endswith(".255"))


def expect(rows, cfg):
    """Reference model: the report documents (without "agent") d42pcap must
    print for these records under this config."""
    com = cfg_get(cfg, "common", {})
    interval = int(cfg_get(com, "Interval", 60))
    max_flows = int(cfg_get(com, "max-flows", 65536))
    max_lsn = int(cfg_get(com, "max-listeners", 16384))
    ttl = int(cfg_get(com, "listener-ttl", 86400)) * NS
    flt = make_filter(cfg)
    rows = [r for r in rows if flt is None or flt(r)]
    docs = []
    if not rows:
        return docs
    lsn = {}            # (fam, ip, port, proto) -> last_ns
    iv_ns = interval * NS
    st = recs = None

    def new_iv():
        return ({"packets": 0, "bytes": 0, "decoded": 0, "undecoded": {}, "flow_drops": 0,
                 "listener_drops": 0}, {})

    def expired(k, now):
        return now > lsn[k] and now - lsn[k] > ttl

    def live(k, now):
        return k in lsn and not expired(k, now)

    def learn(fam, ip, port, proto, ts):
        # (which expired slot the C table reuses depends on its hash: tests
        # only use a TTL that cannot expire within the capture)
        k = (fam, ip, port, proto)
        if k in lsn:
            lsn[k] = max(lsn[k], ts)
            return
        if len(lsn) >= max_lsn:
            old = [x for x in lsn if expired(x, ts)]
            if not old:
                st["listener_drops"] += 1
                return
            del lsn[old[0]]
        lsn[k] = ts

    def flush(start_ns, end_ns):
        # flow_expire() before the report: it counts the listeners alive at
        # its end (docs/REPORT.md); flow_reset() then finds none to expire
        for k in [k for k in lsn if expired(k, end_ns)]:
            del lsn[k]
        comms = []
        for k in sorted(recs, key=lambda k: (k[0], sortkey_addr(k[2]), k[3], k[4],
                                             sortkey_addr(k[1]))):
            r = recs[k]
            comms.append({"client": k[1], "server": k[2], "port": k[3],
                          "protocol": "tcp" if k[4] == P_TCP else "udp",
                          "direction": HOW[r["how"]], "connections": r["conns"],
                          "packets_to_server": r["pc2s"], "packets_to_client": r["ps2c"],
                          "bytes_to_server": r["bc2s"], "bytes_to_client": r["bs2c"],
                          "client_ports": r["cports"], "client_ports_truncated": r["trunc"],
                          "first_seen": iso_us(r["first"]), "last_seen": iso_us(r["last"])})
        und = {k: st["undecoded"][k] for k in REASONS if k in st["undecoded"]}
        docs.append({"interval": {"start": iso_s(start_ns // NS), "end": iso_s(end_ns // NS),
                                  "seconds": (end_ns - start_ns + NS // 2) // NS},
                     "stats": {"packets": st["packets"], "bytes": st["bytes"],
                               "decoded": st["decoded"], "undecoded": und,
                               "kernel_drops": 0, "interface_drops": 0,
                               "flow_drops": st["flow_drops"],
                               "listener_drops": st["listener_drops"],
                               "flows": len(recs), "listeners": len(lsn)},
                     "communications": comms})

    # Offline interval rules (docs/REPORT.md): intervals are aligned to
    # multiples of Interval; only intervals holding packets are reported
    # (gaps are skipped); the last one ends at the last packet, rounded up.
    st, recs = new_iv()
    start = rows[0][0] // iv_ns * iv_ns
    last = 0
    for r in rows:
        ts = r[0]
        if ts >= start + iv_ns:
            flush(start, start + iv_ns)
            start = ts // iv_ns * iv_ns
            st, recs = new_iv()
        last = max(last, ts)
        st["packets"] += 1
        st["bytes"] += r[1]
        if r[2] != "ok":
            st["undecoded"][r[2]] = st["undecoded"].get(r[2], 0) + 1
            continue
        st["decoded"] += 1
        _, _, _, fam, proto, src, dst, sp, dp, flags, iplen = r
        syn, ack = flags & F_SYN, flags & F_ACK
        if proto == P_TCP and syn and not ack:
            to_server, how = True, 0
            learn(fam, dst, dp, proto, ts)
        elif proto == P_TCP and syn and ack:
            to_server, how = False, 1
            learn(fam, src, sp, proto, ts)
        elif live((fam, dst, dp, proto), ts):
            to_server, how = True, 2
        elif live((fam, src, sp, proto), ts):
            to_server, how = False, 2
        elif wellknown(dp) != wellknown(sp):
            to_server, how = wellknown(dp) > wellknown(sp), 3
        elif (sp >= EPHEMERAL_MIN) != (dp >= EPHEMERAL_MIN):
            to_server, how = sp >= EPHEMERAL_MIN, 4
        else:
            # same port: a group address is the server, else the lower one
            to_server = dp < sp or (dp == sp and (
                is_group(dst) if is_group(dst) != is_group(src)
                else sortkey_addr(dst) <= sortkey_addr(src)))
            how = 5
        client, server, sport_c, port = (src, dst, sp, dp) if to_server else (dst, src, dp, sp)
        k = (fam, client, server, port, proto)
        rec = recs.get(k)
        if rec is None:
            if len(recs) >= max_flows:
                st["flow_drops"] += 1
                continue
            rec = recs[k] = {"how": how, "conns": 0, "pc2s": 0, "ps2c": 0, "bc2s": 0,
                             "bs2c": 0, "cports": [], "trunc": False, "first": ts, "last": ts}
        rec["how"] = min(rec["how"], how)
        if proto == P_TCP and syn and not ack:
            rec["conns"] += 1
        if to_server:
            rec["pc2s"] += 1
            rec["bc2s"] += iplen
        else:
            rec["ps2c"] += 1
            rec["bs2c"] += iplen
        if sport_c not in rec["cports"]:
            if len(rec["cports"]) < MAX_CLIENT_PORTS:
                rec["cports"].append(sport_c)
            else:
                rec["trunc"] = True
        rec["first"] = min(rec["first"], ts)
        rec["last"] = max(rec["last"], ts)
    # the last one ends at the last packet, rounded up to a whole second
    # (never past its interval boundary), so end and seconds agree
    flush(start, min(max(-(-last // NS) * NS, start), start + iv_ns))
    for d in docs:
        d["stats"]["undecoded"] = dict(d["stats"]["undecoded"])
    return docs

# ---------------------------------------------------------------- demo


DEMO_T0 = 1709630047 * NS + 123456 * US   # 2024-03-05T09:14:07.123456Z


def demo_capture():
    rng = random.Random(42)
    t0 = DEMO_T0
    web, db, dns, ntp, dc = "10.1.1.10", "10.1.1.20", "10.1.1.53", "10.1.1.123", "10.1.1.5"
    web6 = "2001:db8:1::443"
    ws = ["10.1.10.%d" % i for i in (21, 22, 23, 24, 25)]
    ws6 = "2001:db8:10::21"
    admin = "10.1.10.99"
    app = "10.1.1.30"       # application server talking to the database
    gw = "10.1.10.1"
    cap = Capture(LT_EN10MB, "pcapng", "<", comment="demo office network")

    def eph():
        return rng.randrange(40000, 60999)

    def at(sec):
        return t0 + int(sec * NS) + rng.randrange(0, 900) * US

    # a capture started in the middle of an HTTPS download (no handshake seen)
    # (a laptop; 10.1.1.10:443 becomes a known listener 4 s later)
    cap.add(tcp_session("10.1.10.40", 51544, web, 443, t0, 8, handshake=False, app=tls_app(rng),
                        rng=rng, gap=1500 * MS))
    # workstations: DNS, then web
    names = [("intranet.example.com", web), ("wiki.example.com", web),
             ("db.example.com", db), ("dc1.example.com", dc)]
    for i, w in enumerate(ws):
        cap.add(dns_lookups(w, dns, at(1 + 7 * i), names[i % 2:i % 2 + 2], rng))
        cap.add(tcp_session(w, eph(), web, 80, at(2 + 7 * i), 2, app=http_app("intranet", ["/", "/news"]),
                            rng=rng))
        cap.add(tcp_session(w, eph(), web, 443, at(4 + 7 * i), 3, app=tls_app(rng), rng=rng))
    # one workstation resolves many names in a minute: more than 8 client ports
    cap.add(dns_lookups(ws[0], dns, at(70), [("h%d.example.com" % i, "10.1.2.%d" % i)
                                             for i in range(11)], rng, gap=3 * NS))
    # logon: LDAP bind and an SMB echo to the domain controller
    for i, w in enumerate(ws[:3]):
        cap.add(tcp_session(w, eph(), dc, 389, at(40 + 20 * i), 1, app=ldap_app(), rng=rng))
        cap.add(tcp_session(w, eph(), dc, 445, at(45 + 20 * i), 2, app=smb_app(), rng=rng))
    # NTP from the workstations and the application server
    for i, w in enumerate(ws[:2] + [app]):
        cap.add(ntp_poll(w, eph(), ntp, at(3 + 5 * i), 3, gap=64 * NS))
    # application server -> postgres, a few connections
    for i in range(4):
        cap.add(tcp_session(app, eph(), db, 5432, at(10 + 40 * i), 3, app=pg_app(), rng=rng,
                            gap=50 * MS, rtt=300 * US))
    # admin SSH into the database host
    cap.add(tcp_session(admin, eph(), db, 22, at(95), 6, app=ssh_app(), rng=rng, gap=5 * NS))
    # an IPv6 client of the IPv6 web service
    cap.add(dns_lookups(ws6, "2001:db8:1::53", at(120), [("portal.example.com", web6)], rng))
    cap.add(tcp_session(ws6, eph(), web6, 443, at(121), 3, app=tls_app(rng), rng=rng))
    # undecodable but ordinary: ARP, ICMP echo, LLDP; odd: GRE, bad TCP header
    for i, w in enumerate(ws[:3]):
        cap.add(arp_pkt(at(30 + 50 * i), w, gw))
    cap.add(bad(at(33), ipv4(ws[1], gw, P_ICMP, icmp_echo(7, 1)), ET_IP4, "l4_other"))
    cap.add(bad(at(33) + 400 * US, ipv4(gw, ws[1], P_ICMP, icmp_echo(7, 1, reply=True)),
                ET_IP4, "l4_other"))
    cap.add(bad(at(60), lldp_payload(), ET_LLDP, "not_ip", dmac=b"\x01\x80\xc2\x00\x00\x0e",
                smac=mac(0x10101)))
    cap.add(bad(at(140), ipv4("10.1.1.1", "10.1.50.1", P_GRE, gre_payload()), ET_IP4,
                "encap_tunnel"))
    seg = tcp_hdr(ws[4], web, 50000, 80, 1, 1, F_ACK, b"", doff=3)
    cap.add(bad(at(150), ipv4(ws[4], web, P_TCP, seg), ET_IP4, "tcp_bad_header_length"))
    return cap


def arp_pkt(ts, sender, target, reply=False):
    smac = mac_of(sender)
    body = struct.pack("!HHBBH6s4s6s4s", 1, ET_IP4, 6, 4, 2 if reply else 1, smac,
                       addr(sender).packed, b"\0" * 6 if not reply else mac_of(target),
                       addr(target).packed)
    return bad(ts, body, ET_ARP, "not_ip", smac=smac, dmac=b"\xff" * 6)


def lldp_payload():
    def tlv(t, v):
        return struct.pack("!H", (t << 9) | len(v)) + v
    return (tlv(1, b"\x04" + mac(0x10101)) + tlv(2, b"\x05eth0") + tlv(3, b"\x00\x78")
            + tlv(0, b""))


def gre_payload():
    inner = ipv4("192.168.50.1", "192.168.60.1", P_ICMP, icmp_echo(9, 1))
    return struct.pack("!HH", 0, ET_IP4) + inner

# ---------------------------------------------------------------- suite


SUITE_T0 = 1704067200 * NS          # 2024-01-01T00:00:00Z


def basic_traffic(t0, c4="10.0.0.2", s4="10.0.0.1", c6="2001:db8::2", s6="2001:db8::1",
                  v6=True, **link):
    """TCP with handshake, UDP, in v4 (and v6): the same few flows on every link."""
    rng = random.Random(7)
    pk = tcp_session(c4, 40000, s4, 80, t0 + 1 * US, 1, app=http_app("s", ["/"]), rng=rng, **link)
    pk += udp_exchange(c4, 40001, s4, 53, t0 + 5 * MS, 1,
                       app=lambda i: (dns_query(1, "a.test"), dns_answer(1, "a.test", s4)), **link)
    if v6:
        pk += tcp_session(c6, 40002, s6, 443, t0 + 10 * MS, 1, app=tls_app(rng), rng=rng, **link)
        pk += udp_exchange(c6, 40003, s6, 123, t0 + 20 * MS, 1,
                           app=lambda i: (ntp_msg(3, t0), ntp_msg(4, t0)), **link)
    return pk


def suite_link(lt, name, fmt="pcap", endian="<", ns=False, extra=None):
    cap = Capture(lt, fmt, endian, ns, comment=name)
    cap.add(basic_traffic(SUITE_T0, v6=(lt != LT_IPV4)))
    if extra:
        cap.add(extra)
    return cap


def suite_captures():
    t0 = SUITE_T0
    caps = {}
    caps["link_en10mb.pcap"] = suite_link(LT_EN10MB, "ethernet")
    caps["link_sll.pcap"] = suite_link(LT_SLL, "linux cooked v1", extra=[
        arp_pkt(t0 + 30 * MS, "10.0.0.2", "10.0.0.1")])
    caps["link_sll2.pcap"] = suite_link(LT_SLL2, "linux cooked v2", extra=[
        arp_pkt(t0 + 30 * MS, "10.0.0.2", "10.0.0.1")])
    caps["link_raw.pcap"] = suite_link(LT_RAW, "raw ip, both versions")
    caps["link_ipv4.pcap"] = suite_link(LT_IPV4, "LINKTYPE_IPV4")
    c6 = Capture(LT_IPV6, comment="LINKTYPE_IPV6")
    c6.add(tcp_session("2001:db8::2", 40002, "2001:db8::1", 443, t0 + 1 * MS, 2,
                       app=tls_app(random.Random(3))))
    c6.add(udp_exchange("2001:db8::2", 40003, "2001:db8::1", 53, t0 + 30 * MS, 2))
    caps["link_ipv6.pcap"] = c6
    # NULL: the family is in the writer's byte order: both orders here, and
    # every BSD value of AF_INET6
    n = Capture(LT_NULL, comment="BSD loopback, both family byte orders")
    n.add(tcp_session("127.0.0.1", 50000, "127.0.0.1", 8080, t0 + 1 * MS, 1, af_endian="<"))
    n.add(tcp_session("127.0.0.1", 50002, "127.0.0.1", 8081, t0 + 10 * MS, 1, af_endian=">"))
    for i, af in enumerate(AF_INET6_VALUES):
        n.add(tcp_session("::1", 50010 + i, "::1", 9000 + i, t0 + (20 + 10 * i) * MS, 1, af=af,
                          af_endian="<>"[i % 2]))
    n.add(bad(t0 + 60 * MS, b"\x00" * 20, 0, "not_ip", af=99))
    caps["link_null.pcap"] = n
    lp = Capture(LT_LOOP, comment="OpenBSD loopback, family in network order")
    lp.add(tcp_session("127.0.0.1", 50000, "127.0.0.1", 8080, t0 + 1 * MS, 1))
    lp.add(tcp_session("::1", 50001, "::1", 8081, t0 + 10 * MS, 1, af=24))
    caps["link_loop.pcap"] = lp
    caps["link_unsupported.pcap"] = Capture(LT_USER0, comment="USER0: not decoded").add(
        [bad(p.ts, p.l3, p.etype, "link_unsupported") for p in basic_traffic(t0, v6=False)])

    # VLAN and QinQ
    v = Capture(LT_EN10MB, comment="802.1Q")
    v.add(basic_traffic(t0, vlans=[(ET_8021Q, 100)]))
    v.add(tcp_session("10.0.0.3", 40010, "10.0.0.1", 80, t0 + 40 * MS, 1, vlans=[(ET_8021Q, 0)]))
    caps["vlan.pcap"] = v
    q = Capture(LT_EN10MB, comment="QinQ: 802.1ad and 0x9100 outer tags, up to 4 tags")
    q.add(basic_traffic(t0, vlans=[(ET_8021AD, 200), (ET_8021Q, 100)]))
    q.add(tcp_session("10.0.0.3", 40010, "10.0.0.1", 22, t0 + 40 * MS, 1,
                      vlans=[(ET_QINQ_OLD, 300), (ET_8021Q, 10)]))
    q.add(udp_exchange("10.0.0.4", 40011, "10.0.0.1", 53, t0 + 50 * MS, 1,
                       vlans=[(ET_8021AD, 1), (ET_8021Q, 2), (ET_8021Q, 3), (ET_8021Q, 4)]))
    tags5 = [(ET_8021AD, 1)] + [(ET_8021Q, i) for i in range(2, 6)]
    q.add(bad(t0 + 60 * MS, ipv4("10.0.0.4", "10.0.0.1", P_UDP,
                                 udp_hdr("10.0.0.4", "10.0.0.1", 40012, 53, b"x")),
              ET_IP4, "vlan_too_deep", vlans=tags5, smac=mac(4), dmac=mac(1)))
    caps["qinq.pcap"] = q

    # IPv4 options
    o = Capture(LT_EN10MB, comment="IPv4 options")
    rr = bytes([7, 11, 4]) + b"\0" * 8                     # record route, 2 slots
    ra = bytes([0x94, 4, 0, 0])                            # router alert
    tsopt = bytes([68, 12, 5, 0]) + b"\0" * 8             # timestamp
    o.add(tcp_session("10.0.0.2", 40000, "10.0.0.1", 80, t0 + 1 * MS, 1, ipkw={"options": ra}))
    o.add(udp_exchange("10.0.0.2", 40001, "10.0.0.1", 53, t0 + 10 * MS, 1,
                       ipkw={"options": b"\x01" + rr}))
    o.add(tcp_session("10.0.0.3", 40002, "10.0.0.1", 25, t0 + 20 * MS, 1,
                      ipkw={"options": tsopt + b"\x01" * 24 + b"\x00" * 4}))  # IHL 15
    caps["v4opts.pcap"] = o

    caps["frag4.pcap"] = frag4_capture(t0)
    caps["ah4.pcap"] = ah4_capture(t0)
    caps["v6ext.pcap"] = v6ext_capture(t0)

    # timestamps and byte orders
    for name, fmt, endian, ns in (("ns.pcap", "pcap", "<", True), ("ns.pcapng", "pcapng", "<", True),
                                  ("be.pcap", "pcap", ">", False), ("be_ns.pcap", "pcap", ">", True),
                                  ("be.pcapng", "pcapng", ">", False),
                                  ("be_ns.pcapng", "pcapng", ">", True)):
        c = Capture(LT_EN10MB, fmt, endian, ns, comment=name)
        c.add(basic_traffic(t0 + 123456789))      # sub-microsecond part: 789 ns
        c.add(tcp_session("10.0.0.9", 40100, "10.0.0.1", 80, t0 + 59 * NS + 999999999, 1))
        caps[name] = c

    caps["malformed.pcap"] = malformed_capture(t0)
    caps["snaplen.pcap"] = snaplen_capture(t0)
    caps["directions.pcap"] = directions_capture(t0)
    caps["gap.pcap"] = gap_capture(t0)
    return caps


def frag4_capture(t0):
    """A UDP datagram and a TCP segment in IPv4 fragments: only the first
    fragment has ports; the others are counted as ip_fragment_not_first."""
    c = Capture(LT_EN10MB, comment="IPv4 fragments")
    cli, srv = "10.0.0.2", "10.0.0.1"
    for k, (proto, seg) in enumerate((
            (P_UDP, udp_hdr(srv, cli, 53, 40001, dns_txt_answer(5, "big.test", 1400))),
            (P_TCP, tcp_hdr(cli, srv, 40000, 80, 1000, 2000, F_ACK | F_PSH, b"A" * 1000)))):
        src, dst = (srv, cli) if proto == P_UDP else (cli, srv)
        ident = 0x1234 + k
        sizes = [0, 600, 1200, len(seg)] if proto == P_UDP else [0, 24, 512, len(seg)]
        pieces = [(sizes[i], seg[sizes[i]:sizes[i + 1]]) for i in range(len(sizes) - 1)]
        if k == 1:
            pieces = [pieces[0], pieces[2], pieces[1]]     # out of order
        for i, (off, data) in enumerate(pieces):
            more = off + len(data) < len(seg)
            l3 = ipv4(src, dst, proto, data, ident=ident, df=False, mf=more, frag=off)
            ts = t0 + (k * 10 + i + 1) * MS
            if off == 0:
                sp, dp = struct.unpack("!HH", seg[:4])
                flags = seg[13] if proto == P_TCP else 0
                c.add(P(ts, l3, ET_IP4, ok_meta(src, dst, proto, sp, dp, flags, len(l3))))
            else:
                c.add(bad(ts, l3, ET_IP4, "ip_fragment_not_first"))
    # a query before it, so the UDP reply is a known direction either way
    c.add(udp_pkt(t0, cli, srv, 40001, 53, dns_query(5, "big.test")))
    return c


def ah4_capture(t0):
    """IPsec AH after IPv4: skipped to the TCP/UDP header behind it, as after
    IPv6; what else it carries (ESP, a tunnel) or a cut/overlong chain is
    counted undecoded; fragments as without AH."""
    c = Capture(LT_EN10MB, comment="IPv4 AH (transport mode)")
    cli, srv = "10.0.0.2", "10.0.0.1"
    c.add(tcp_session(cli, 40000, srv, 443, t0 + 1 * MS, 1, app=tls_app(random.Random(4)),
                      ipkw={"ah": [12]}))                     # HMAC-SHA1-96
    c.add(udp_exchange(cli, 40001, srv, 53, t0 + 10 * MS, 1, ipkw={"ah": [16]}))
    c.add(udp_exchange(cli, 40002, srv, 123, t0 + 20 * MS, 1, ipkw={"ah": [12, 12]}))
    c.add(tcp_session(cli, 40003, srv, 22, t0 + 30 * MS, 1, ipkw={"ah": [12], "options":
                                                                 bytes([0x94, 4, 0, 0])}))
    # a UDP datagram with AH in two fragments: the first is decoded
    seg = udp_hdr(srv, cli, 53, 40004, dns_txt_answer(6, "ah.test", 900))
    body = ah_hdr(P_UDP) + seg
    c.add(udp_pkt(t0 + 40 * MS, cli, srv, 40004, 53, dns_query(6, "ah.test"), ipkw={"ah": [12]}))
    f1 = ipv4(srv, cli, P_AH, body[:600], ident=0x4321, df=False, mf=True)
    f2 = ipv4(srv, cli, P_AH, body[600:], ident=0x4321, df=False, frag=600)
    c.add(P(t0 + 41 * MS, f1, ET_IP4, ok_meta(srv, cli, P_UDP, 53, 40004, 0, len(f1))))
    c.add(bad(t0 + 41 * MS + 10 * US, f2, ET_IP4, "ip_fragment_not_first"))
    # ESP and ICMP behind AH are not TCP/UDP; tunnel mode is a tunnel
    c.add(bad(t0 + 50 * MS, ipv4(cli, srv, P_ESP, struct.pack("!II", 0x200, 1) + bytes(32),
                                 ah=[12]), ET_IP4, "l4_other"))
    c.add(bad(t0 + 51 * MS, ipv4(cli, srv, P_ICMP, icmp_echo(7, 1), ah=[12]), ET_IP4,
              "l4_other"))
    inner = ipv4("192.168.1.2", "192.168.2.1", P_TCP,
                 tcp_hdr("192.168.1.2", "192.168.2.1", 40005, 80, 1, 0, F_SYN))
    c.add(bad(t0 + 52 * MS, ipv4(cli, srv, P_IPIP, inner, ah=[12]), ET_IP4, "encap_tunnel"))
    # AH longer than the datagram; more AH headers than the decoder skips (4)
    l3 = ipv4(cli, srv, P_AH, ah_hdr(P_UDP, icv=32)[:20])
    c.add(bad(t0 + 60 * MS, l3, ET_IP4, "ipv4_ah_truncated"))
    l3 = ipv4(cli, srv, P_UDP, udp_hdr(cli, srv, 40006, 9, b"q"), ah=[12] * 5)
    c.add(bad(t0 + 61 * MS, l3, ET_IP4, "ipv4_ah_too_many"))
    return c


def v6ext_capture(t0):
    c = Capture(LT_EN10MB, comment="IPv6 extension headers")
    cli, srv = "2001:db8::2", "2001:db8::1"
    hbh = (P_HOPOPT, ext_hbh)
    dst = (P_DSTOPTS, ext_dst)
    rt = (P_ROUTING, lambda nh: ext_srh(nh, srv))
    fr0 = (P_FRAG, lambda nh: ext_frag(nh, 0, False, 77))          # atomic fragment
    chains = [[hbh], [rt], [dst], [fr0], [hbh, dst, rt, dst], [hbh, dst, rt, fr0, dst]]
    for i, ch in enumerate(chains):
        c.add(tcp_session(cli, 41000 + i, srv, 443, t0 + (1 + 10 * i) * MS, 1, exts=ch,
                          app=tls_app(random.Random(i))))
        c.add(udp_exchange(cli, 42000 + i, srv, 53, t0 + (5 + 10 * i) * MS, 1, exts=ch))
    # a fragmented UDP datagram: first fragment decoded, second counted
    seg = udp_hdr(srv, cli, 53, 42100, dns_txt_answer(3, "x.test", 800))
    f1 = ipv6(srv, cli, P_UDP, seg[:400], exts=[(P_FRAG, lambda nh: ext_frag(nh, 0, True, 99))])
    f2 = ipv6(srv, cli, P_UDP, seg[400:], exts=[(P_FRAG, lambda nh: ext_frag(nh, 400, False, 99))])
    c.add(udp_pkt(t0 + 100 * MS, cli, srv, 42100, 53, dns_query(3, "x.test")))
    c.add(P(t0 + 101 * MS, f1, ET_IP6, ok_meta(srv, cli, P_UDP, 53, 42100, 0, len(f1))))
    c.add(bad(t0 + 101 * MS + 10 * US, f2, ET_IP6, "ip_fragment_not_first"))
    # nine extension headers: more than the decoder walks
    many = [dst] * 9
    l3 = ipv6(cli, srv, P_UDP, udp_hdr(cli, srv, 42200, 53, b"q"), exts=many)
    c.add(bad(t0 + 110 * MS, l3, ET_IP6, "ipv6_ext_too_many"))
    # hop-by-hop header cut short by the IPv6 payload length and the frame
    l3 = ipv6(cli, srv, P_UDP, b"", exts=[hbh])[:40 + 4]
    l3 = l3[:4] + struct.pack("!H", 4) + l3[6:]
    c.add(bad(t0 + 120 * MS, l3, ET_IP6, "ipv6_ext_truncated"))
    # ICMPv6 and no-next-header are not TCP/UDP
    c.add(bad(t0 + 130 * MS, ipv6(cli, srv, P_ICMP6, icmp6_echo(cli, srv, 1, 1)), ET_IP6,
              "l4_other"))
    return c


def malformed_capture(t0):
    """One or more packets for each undecodable reason."""
    c = Capture(LT_EN10MB, comment="malformed and undecoded packets")
    a, b = "10.0.0.2", "10.0.0.1"
    t = [t0 + i * MS for i in range(1, 40)]
    good = ipv4(a, b, P_TCP, tcp_hdr(a, b, 40000, 80, 1, 0, F_SYN))
    # link: frame shorter than an Ethernet header
    c.add(bad(t[0], b"", ET_IP4, "link_truncated", frame=b"\x02" * 10))
    # not IP: ARP, LLDP
    c.add(arp_pkt(t[1], a, b))
    c.add(bad(t[2], lldp_payload(), ET_LLDP, "not_ip", dmac=b"\x01\x80\xc2\x00\x00\x0e",
              smac=mac(5)))
    # MPLS (label 100, bottom of stack) carrying IPv4; PPPoE session; PPPoE discovery
    c.add(bad(t[3], struct.pack("!I", (100 << 12) | (1 << 8) | 64) + good, ET_MPLS, "encap_mpls",
              smac=mac(2), dmac=mac(1)))
    pppoe = struct.pack("!BBHH", 0x11, 0, 0x1234, len(good) + 2) + struct.pack("!H", 0x0021) + good
    c.add(bad(t[4], pppoe, ET_PPPOE_S, "encap_pppoe", smac=mac(2), dmac=mac(1)))
    padi = struct.pack("!BBHH", 0x11, 0x09, 0, 4) + struct.pack("!HH", 0x0101, 0)
    c.add(bad(t[5], padi, ET_PPPOE_D, "encap_pppoe", smac=mac(2), dmac=b"\xff" * 6))
    # IPv4: truncated header, bad version, IHL < 5, total length < IHL
    c.add(bad(t[6], good, ET_IP4, "ip_truncated", caplen=14 + 12, origlen=60))
    c.add(bad(t[7], ipv4(a, b, P_TCP, tcp_hdr(a, b, 40000, 80, 1, 0, F_SYN), version=5),
              ET_IP4, "ip_bad_version"))
    c.add(bad(t[8], ipv4(a, b, P_TCP, tcp_hdr(a, b, 40000, 80, 1, 0, F_SYN), ihl=4), ET_IP4,
              "ip_bad_header_length"))
    c.add(bad(t[9], ipv4(a, b, P_TCP, tcp_hdr(a, b, 40000, 80, 1, 0, F_SYN), total=16), ET_IP4,
              "ip_bad_total_length"))
    # IPv6: truncated fixed header, bad version inside 0x86DD
    six = ipv6("2001:db8::2", "2001:db8::1", P_UDP, udp_hdr("2001:db8::2", "2001:db8::1", 1, 53))
    c.add(bad(t[10], six, ET_IP6, "ip_truncated", caplen=14 + 30, origlen=14 + len(six)))
    c.add(bad(t[11], six[:0] + bytes([0x40]) + six[1:], ET_IP6, "ip_bad_version"))
    # tunnels: GRE, IP-in-IP, IPv6-in-IPv4
    c.add(bad(t[12], ipv4(a, b, P_GRE, gre_payload()), ET_IP4, "encap_tunnel"))
    c.add(bad(t[13], ipv4(a, b, P_IPIP, ipv4("192.168.1.1", "192.168.1.2", P_UDP,
                                             udp_hdr("192.168.1.1", "192.168.1.2", 1, 2))),
              ET_IP4, "encap_tunnel"))
    c.add(bad(t[14], ipv4(a, b, P_IPV6, six), ET_IP4, "encap_tunnel"))
    # other L4: ICMP
    c.add(bad(t[15], ipv4(a, b, P_ICMP, icmp_echo(1, 1)), ET_IP4, "l4_other"))
    # L4 truncated: TCP header cut by the capture length; UDP header cut
    c.add(bad(t[16], good, ET_IP4, "l4_truncated", caplen=14 + 20 + 10, origlen=14 + len(good)))
    u = ipv4(a, b, P_UDP, udp_hdr(a, b, 40001, 53, b"hello"))
    c.add(bad(t[17], u, ET_IP4, "l4_truncated", caplen=14 + 20 + 4, origlen=60))
    # TCP data offset < 5; UDP length < 8
    c.add(bad(t[18], ipv4(a, b, P_TCP, tcp_hdr(a, b, 40000, 80, 1, 0, F_SYN, doff=4)), ET_IP4,
              "tcp_bad_header_length"))
    # A data offset beyond the segment is decoded: only ports and flags are
    # read, and docs/REPORT.md names only an offset below 5 as bad.
    seg = tcp_hdr(a, b, 40000, 80, 1, 0, F_ACK, doff=15)
    m = ok_meta(a, b, P_TCP, 40000, 80, F_ACK, 40)
    m["tshark_malformed"] = True
    c.add(P(t[19], ipv4(a, b, P_TCP, seg), ET_IP4, m))
    c.add(bad(t[20], ipv4(a, b, P_UDP, udp_hdr(a, b, 40001, 53, b"hello", length=7)), ET_IP4,
              "udp_bad_length"))
    # and a well-formed flow between them, which must still be counted right
    c.add(tcp_session(a, 40000, b, 80, t[22], 1))
    return c


def snaplen_capture(t0):
    """Packets cut by a snap length but with complete headers: decoded, with
    the IP length from the header and the wire length in stats.bytes."""
    c = Capture(LT_EN10MB, snaplen=96, comment="snap length 96")
    c.add(tcp_session("10.0.0.2", 40000, "10.0.0.1", 80, t0 + 1 * MS, 2,
                      app=raw_app(b"G" * 400, b"H" * 1200)))
    c.add(tcp_session("2001:db8::2", 40001, "2001:db8::1", 80, t0 + 10 * MS, 1,
                      exts=[(P_HOPOPT, ext_hbh)], app=raw_app(b"G" * 300, b"H" * 900)))
    return c


def directions_capture(t0):
    """Each rule that decides the server side."""
    c = Capture(LT_EN10MB, comment="server-side rules")
    # syn: handshake seen (the server port is not well-known nor low)
    c.add(tcp_session("10.0.0.2", 40000, "10.0.0.1", 50000, t0 + 1 * MS, 1))
    # synack: the client's SYN was missed
    s = tcp_session("10.0.0.3", 40001, "10.0.0.1", 50001, t0 + 10 * MS, 1)
    c.add(s[1:])
    # listener: a later mid-stream flow to the listener 10.0.0.1:50000 from
    # another client, server speaking first
    c.add(tcp_session("10.0.0.4", 40002, "10.0.0.1", 50000, t0 + 20 * MS, 1, handshake=False)
          [1:])
    # wellknown: mid-stream to 443 from a low client port
    c.add(tcp_session("10.0.0.5", 1023, "10.0.0.1", 443, t0 + 30 * MS, 1, handshake=False))
    # wellknown UDP, reply first
    c.add(udp_exchange("10.0.0.6", 1500, "10.0.0.1", 53, t0 + 40 * MS, 1)[::-1])
    # wellknown against a reserved client port: NFS from 800, mid-stream
    # (a mount made before the capture), reply first over UDP
    c.add(tcp_session("10.0.0.6", 800, "10.0.0.1", 2049, t0 + 42 * MS, 1, handshake=False)[::-1])
    c.add(udp_exchange("10.0.0.6", 801, "10.0.0.1", 2049, t0 + 44 * MS, 1)[::-1])
    # ephemeral: neither well-known, one side >= 32768
    c.add(udp_exchange("10.0.0.7", 45000, "10.0.0.1", 9999, t0 + 50 * MS, 2))
    c.add(tcp_session("10.0.0.7", 33000, "10.0.0.1", 8888, t0 + 55 * MS, 1, handshake=False))
    # lower port: both ephemeral, both unprivileged-below-32768
    c.add(udp_exchange("10.0.0.8", 50001, "10.0.0.1", 40000, t0 + 60 * MS, 1))
    c.add(udp_exchange("10.0.0.8", 20000, "10.0.0.1", 5000, t0 + 65 * MS, 1)[::-1])
    # same port both sides: the lower address is the server
    c.add(udp_exchange("10.0.0.9", 7000, "10.0.0.1", 7000, t0 + 70 * MS, 1))
    return c


def gap_capture(t0):
    """Traffic, four silent minutes, traffic: empty intervals are reported."""
    c = Capture(LT_EN10MB, comment="gap of empty intervals; a session across intervals")
    c.add(tcp_session("10.0.0.2", 40000, "10.0.0.1", 80, t0 + 58 * NS, 4, gap=1 * NS))
    c.add(udp_exchange("10.0.0.2", 40001, "10.0.0.1", 53, t0 + 5 * 60 * NS + 5 * NS, 1))
    c.add(tcp_session("10.0.0.3", 40002, "10.0.0.1", 80, t0 + 6 * 60 * NS, 1, handshake=False))
    return c

# ---------------------------------------------------------------- flows, filters


def flows_capture(n):
    """n TCP SYNs from n distinct clients to one listener, one packet each."""
    c = Capture(LT_EN10MB, comment="%d one-packet flows" % n)
    t0 = SUITE_T0 + 1 * NS
    for i in range(n):
        cli = str(ipaddress.ip_address("10.128.0.0") + i + 1)
        c.add(tcp_pkt(t0 + i * 10 * US, cli, "10.0.0.1", 40000 + i % 20000, 80, F_SYN,
                      seq=i * 7919))
    return c


FILTER_HOSTS = {
    "c1": "10.0.1.5", "c2": "10.0.1.6", "c3": "10.0.3.7",
    "web": "10.0.2.10", "db": "10.0.2.20", "dns": "10.0.2.53",
    "c6": "2001:db8:1::5", "s6": "2001:db8::10",
}


def filters_capture():
    """TCP and UDP in v4 and v6 among a few hosts and ports, plus ARP and ICMP:
    every include/ignore key selects a different non-empty strict subset."""
    h = FILTER_HOSTS
    rng = random.Random(11)
    c = Capture(LT_EN10MB, comment="filters")
    t = SUITE_T0 + 1 * NS
    for i, (cli, srv, port) in enumerate((
            (h["c1"], h["web"], 80), (h["c2"], h["web"], 443), (h["c3"], h["web"], 80),
            (h["c1"], h["db"], 5432), (h["c3"], h["db"], 22), (h["c2"], h["db"], 8080),
            (h["c6"], h["s6"], 443), (h["c6"], h["s6"], 22))):
        c.add(tcp_session(cli, 41000 + i, srv, port, t + i * 100 * MS, 1, rng=rng))
    for i, (cli, srv, port) in enumerate((
            (h["c1"], h["dns"], 53), (h["c3"], h["dns"], 53), (h["c2"], h["dns"], 123),
            (h["c1"], h["db"], 161), (h["c6"], h["s6"], 53), (h["c6"], h["s6"], 123))):
        c.add(udp_exchange(cli, 42000 + i, srv, port, t + 2 * NS + i * 100 * MS, 2, gap=10 * MS))
    # what libpcap's tcp/udp/port cannot see into, but the decoder reads:
    # IPv6 behind extension headers, a frame under three VLAN tags, IPv4 AH
    hbh, dst = (P_HOPOPT, ext_hbh), (P_DSTOPTS, ext_dst)
    c.add(tcp_session(h["c6"], 43000, h["s6"], 443, t + 4 * NS, 1, exts=[hbh], rng=rng))
    c.add(udp_exchange(h["c6"], 43001, h["s6"], 53, t + 4 * NS + 200 * MS, 1, exts=[dst]))
    c.add(tcp_session(h["c2"], 43002, h["web"], 80, t + 4 * NS + 400 * MS, 1, rng=rng,
                      vlans=[(ET_8021AD, 1), (ET_8021Q, 2), (ET_8021Q, 3)]))
    # and IPv4 behind AH (transport mode)
    c.add(tcp_session(h["c1"], 43003, h["web"], 443, t + 5 * NS, 1, rng=rng, ipkw={"ah": [12]}))
    c.add(udp_exchange(h["c3"], 43004, h["dns"], 53, t + 5 * NS + 200 * MS, 1,
                       ipkw={"ah": [16]}))
    c.add(arp_pkt(t + 3 * NS, h["c1"], h["web"]))
    c.add(bad(t + 3 * NS + 5 * MS, ipv4(h["c1"], h["web"], P_ICMP, icmp_echo(3, 1)), ET_IP4,
              "l4_other"))
    c.add(bad(t + 3 * NS + 6 * MS, ipv6(h["c6"], h["s6"], P_ICMP6, icmp6_echo(h["c6"], h["s6"], 3, 1)),
              ET_IP6, "l4_other"))
    return c


def ah4_filter_captures():
    """IPv4 AH (transport mode) carrying TCP to port 443 and to port 22, on
    Ethernet, under an 802.1Q tag and in a Linux cooked capture: an include
    list for 443 keeps that one only, behind AH as without (t_filters.sh)."""
    caps = {}
    for name, lt, link in (("ah4_filter_en10mb.pcap", LT_EN10MB, {}),
                           ("ah4_filter_vlan.pcap", LT_EN10MB, {"vlans": [(ET_8021Q, 100)]}),
                           ("ah4_filter_sll.pcap", LT_SLL, {})):
        c = Capture(lt, comment="IPv4 AH, filtered")
        c.add(tcp_session("10.0.0.2", 40000, "10.0.0.1", 443, SUITE_T0 + 1 * MS, 1,
                          ipkw={"ah": [12]}, **link))
        c.add(tcp_session("10.0.0.2", 40001, "10.0.0.1", 22, SUITE_T0 + 10 * MS, 1,
                          ipkw={"ah": [12]}, **link))
        caps[name] = c
    return caps


def optbug_capture():
    """IPv6 UDP 22 -> 40000, 40001 -> 80 and 53 -> 40000: the packets on
    which libpcap 1.10.3's optimiser gets one list set wrong (t_filters.sh)."""
    c = Capture(LT_EN10MB, comment="optimiser")
    for i, (sport, dport) in enumerate(((22, 40000), (40001, 80), (53, 40000))):
        c.add(udp_pkt(SUITE_T0 + i * NS, "2001:db8::1", "2001:db8::2", sport, dport))
    return c

# ---------------------------------------------------------------- check


def load_output(path):
    docs, errs = [], []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                docs.append(json.loads(line))
            except ValueError as e:
                errs.append("line %d is not JSON (%s): %r" % (n, e, line[:200]))
    return docs, errs


def diff(a, b, path="", out=None, limit=40):
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                out.append("%s.%s: missing in output (expected %s)" % (path, k, json.dumps(a[k])[:200]))
            elif k not in a:
                out.append("%s.%s: unexpected in output: %s" % (path, k, json.dumps(b[k])[:200]))
            else:
                diff(a[k], b[k], "%s.%s" % (path, k), out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: %d entries expected, %d in output" % (path, len(a), len(b)))
            if a and b and isinstance(a[0], dict) and "client" in a[0]:
                ka = {(x["client"], x["server"], x["port"], x["protocol"]) for x in a}
                kb = {(x.get("client"), x.get("server"), x.get("port"), x.get("protocol"))
                      for x in b}
                for k in sorted(ka - kb, key=str)[:10]:
                    out.append("%s: missing %s" % (path, k))
                for k in sorted(kb - ka, key=str)[:10]:
                    out.append("%s: unexpected %s" % (path, k))
                return out
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s[%d]" % (path, i), out, limit)
    elif a != b or type(a) != type(b):
        out.append("%s: expected %s, output %s" % (path, json.dumps(a), json.dumps(b)))
    return out


def check(answer, output, cfg, interface=None):
    with open(answer) as f:
        ans = json.load(f)
    exp = expect(ans["records"], cfg)
    docs, errs = load_output(output)
    problems = list(errs)
    for d in docs:
        ag = d.pop("agent", None)
        if not isinstance(ag, dict) or ag.get("name") != "d42pcap" or not ag.get("version") \
                or not ag.get("host"):
            problems.append("bad agent object: %s" % json.dumps(ag))
        elif interface is not None and ag.get("interface") != interface:
            problems.append("agent.interface %r, expected %r" % (ag.get("interface"), interface))
        for c in d.get("communications", []):
            # the set of ports kept matters, not their order
            if isinstance(c.get("client_ports"), list):
                c["client_ports"] = sorted(c["client_ports"])
    for d in exp:
        for c in d["communications"]:
            c["client_ports"] = sorted(c["client_ports"])
    if len(docs) != len(exp):
        problems.append("%d report lines expected, %d in output" % (len(exp), len(docs)))
    for i, (e, d) in enumerate(zip(exp, docs)):
        problems += diff(e, d, "line%d" % (i + 1))
    return problems

# ---------------------------------------------------------------- validation


def validate(path, answer=None):
    """tshark and tcpdump read the file; tshark finds no malformed packet and
    no bad checksum among the packets meant to be well formed."""
    problems = []
    r = subprocess.run(["tcpdump", "-tt", "-nn", "-r", path], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("tcpdump -r failed: %s" % r.stderr.strip()[-300:])
    n = len([x for x in r.stdout.splitlines() if x[:1].isdigit()])
    ans = answer
    if ans is None and os.path.exists(path + ".answer.json"):
        with open(path + ".answer.json") as f:
            ans = json.load(f)
    if ans and n != ans["packets"] and ans["linktype"] != LT_USER0:
        problems.append("tcpdump printed %d lines for %d packets" % (n, ans["packets"]))
    r = subprocess.run(["tshark", "-n", "-r", path, "-o", "ip.check_checksum:TRUE",
                        "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                        "-T", "fields", "-e", "frame.number", "-e", "_ws.malformed",
                        "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
                        "-e", "udp.checksum.status", "-e", "_ws.col.Protocol",
                        "-e", "_ws.col.Info"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("tshark -r failed: %s" % r.stderr.strip()[-300:])
    intended_ok = set()
    if ans:
        odd = set(ans.get("tshark_malformed", []))
        for i, row in enumerate(ans["records"], 1):
            if i in odd:
                continue
            if row[2] in ("ok", "not_ip", "l4_other", "encap_tunnel", "encap_mpls",
                          "encap_pppoe", "ip_fragment_not_first", "link_unsupported"):
                intended_ok.add(i)
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0].isdigit():
            continue
        num = int(f[0])
        if num not in intended_ok:
            continue
        if f[1]:
            problems.append("frame %d malformed per tshark: %s %s" % (num, f[5], f[6][:120]))
        for s in f[2:5]:
            if "0" in s.split(","):
                problems.append("frame %d bad checksum per tshark: %s" % (num, f[6][:120]))
    return problems

# ---------------------------------------------------------------- CLI


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    cmd, args = argv[1], argv[2:]

    def cfg_arg():
        if "-c" in args:
            i = args.index("-c")
            with open(args[i + 1]) as f:
                c = json.load(f)
            del args[i:i + 2]
            return c
        return {"common": {"Interval": 60}}

    if cmd == "demo" and len(args) == 1:
        demo_capture().write(args[0])
    elif cmd == "suite" and len(args) == 1:
        os.makedirs(args[0], exist_ok=True)
        for name, cap in suite_captures().items():
            cap.write(os.path.join(args[0], name))
    elif cmd == "flows" and len(args) == 2:
        flows_capture(int(args[0])).write(args[1])
    elif cmd == "filters" and len(args) == 1:
        filters_capture().write(args[0])
    elif cmd == "ah4filter" and len(args) == 1:
        os.makedirs(args[0], exist_ok=True)
        for name, cap in ah4_filter_captures().items():
            cap.write(os.path.join(args[0], name))
    elif cmd == "optbug" and len(args) == 1:
        optbug_capture().write(args[0])
    elif cmd == "expect" and args:
        cfg = cfg_arg()
        with open(args[0]) as f:
            ans = json.load(f)
        for d in expect(ans["records"], cfg):
            print(json.dumps(d, separators=(",", ":")))
    elif cmd == "check" and len(args) >= 2:
        cfg = cfg_arg()
        iface = None
        if "--interface" in args:
            i = args.index("--interface")
            iface = args[i + 1]
            del args[i:i + 2]
        problems = check(args[0], args[1], cfg, iface)
        for p in problems:
            print(p)
        return 1 if problems else 0
    elif cmd == "validate" and args:
        bad_any = 0
        for p in args:
            probs = validate(p)
            for x in probs:
                print("%s: %s" % (p, x))
            bad_any |= bool(probs)
        return 1 if bad_any else 0
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
