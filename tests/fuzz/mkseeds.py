#!/usr/bin/env python3
"""Extra seed inputs for `make fuzz`, made from files read in place.

  mkseeds.py OUTDIR [CORPUS]

Writes OUTDIR/NAME/<sha1> for the fuzz targets below (OUTDIR is emptied
first; it lives under build/ and is never committed):
  decode    link byte + packet, from the packets of the captures in CORPUS
            (the shared corpus, when present), tests/data and gen_pcap suite
  pcapfile  the first PCAP_MAX bytes of every capture file
  config    each document of tests/data/bad_configs.tsv, the example config
  json      the config seeds and every report line of tests/golden/*.jsonl
  d42scan   a piece-size byte + each report line of tests/golden/*.jsonl
The committed seeds in tests/fuzz/corpus/NAME/ stay small; these are many.
"""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Must match fuzz_links[] in tests/fuzz/fuzz_decode.c (index = link byte).
DECODE_LINKS = [1, 12, 14, 101, 228, 229, 0, 108, 113, 276, 105]
DECODE_MAX = 2047          # packet bytes (FUZZ_MAXLEN_decode - 1)
DECODE_PER_FILE = 6        # packets taken from one capture
DECODE_TOTAL = 4000        # seeds at most
PCAP_MAX = 8192            # FUZZ_MAXLEN_pcapfile
CAPTURE_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                 b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


def write(outdir, name, data):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def pcap_packets(buf):
    """(linktype, packet) of a classic pcap file; stops at the first damage."""
    if len(buf) < 24:
        return
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    lt = struct.unpack(e + "I", buf[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(buf):
        caplen = struct.unpack(e + "I", buf[off + 8:off + 12])[0]
        off += 16
        if caplen > len(buf) - off:
            return
        yield lt, buf[off:off + caplen]
        off += caplen


def pcapng_packets(buf):
    """(linktype, packet) of the EPBs and SPBs of a pcapng file."""
    off, e, links = 0, "<", []
    while off + 12 <= len(buf):
        btype = struct.unpack(e + "I", buf[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = buf[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else None
            if e is None:
                return
            links = []
        blen = struct.unpack(e + "I", buf[off + 4:off + 8])[0]
        if blen < 12 or blen % 4 or off + blen > len(buf):
            return
        body = buf[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifid, _, _, caplen = struct.unpack(e + "IIII", body[:16])
            if ifid < len(links) and caplen <= len(body) - 20:
                yield links[ifid], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and links:
            yield links[0], body[4:]
        off += blen


def captures(roots):
    for root in roots:
        if os.path.isfile(root):
            yield root
            continue
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                yield os.path.join(d, f)


def capture_seeds(outdir, roots):
    seen, ndecode = set(), 0
    for path in captures(roots):
        try:
            with open(path, "rb") as f:
                buf = f.read()
        except OSError:
            continue
        if buf[:4] not in CAPTURE_MAGIC:
            continue
        write(outdir, "pcapfile", buf[:PCAP_MAX])
        pkts = pcapng_packets(buf) if buf[:4] == b"\x0a\x0d\x0d\x0a" else pcap_packets(buf)
        taken = 0
        try:
            for lt, pkt in pkts:
                if taken >= DECODE_PER_FILE or ndecode >= DECODE_TOTAL:
                    break
                if lt not in DECODE_LINKS:
                    continue
                seed = bytes([DECODE_LINKS.index(lt)]) + pkt[:DECODE_MAX]
                h = hashlib.sha1(seed).digest()
                if h in seen:
                    continue
                seen.add(h)
                write(outdir, "decode", seed)
                taken += 1
                ndecode += 1
        except struct.error:
            pass


def text_seeds(outdir):
    docs = []
    tsv = os.path.join(TOP, "tests", "data", "bad_configs.tsv")
    if os.path.exists(tsv):
        with open(tsv, "rb") as f:
            for line in f:
                if line.startswith(b"#") or line.count(b"\t") < 3:
                    continue
                docs.append(line.rstrip(b"\n").split(b"\t", 3)[3])
    for p in ("d42pcap.json.example", "tests/data/demo.json"):
        try:
            with open(os.path.join(TOP, p), "rb") as f:
                docs.append(f.read())
        except OSError:
            pass
    for d in docs:
        write(outdir, "config", d)
        write(outdir, "json", d[:4096])
    gdir = os.path.join(TOP, "tests", "golden")
    for name in sorted(os.listdir(gdir)) if os.path.isdir(gdir) else []:
        with open(os.path.join(gdir, name), "rb") as f:
            for i, line in enumerate(f):
                line = line.rstrip(b"\n")
                write(outdir, "json", line[:4096])
                write(outdir, "d42scan", bytes([i * 37 % 256]) + line)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    outdir = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) == 3 else ""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    roots = [os.path.join(TOP, "tests", "data")]
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(TOP, "tests", "gen_pcap.py")
        if subprocess.run([sys.executable, gen, "suite", tmp],
                          stdout=subprocess.DEVNULL).returncode == 0:
            roots.append(tmp)
        if corpus and os.path.isdir(corpus):
            roots.append(corpus)
        else:
            print("mkseeds: no shared corpus at %r: its seeds are skipped" % corpus)
        capture_seeds(outdir, roots)
    text_seeds(outdir)
    for name in sorted(os.listdir(outdir)):
        print("mkseeds: %s: %d seeds" % (name, len(os.listdir(os.path.join(outdir, name)))))


if __name__ == "__main__":
    main()
