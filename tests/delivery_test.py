#!/usr/bin/env python3
"""Delivery tests: d42pcap against the Device42 emulator (tests/d42_emulator.py)
over HTTPS with certificates made at test time (tests/mkcerts.sh).

Prints "ok NAME" / "FAIL NAME: why" / "SKIP NAME: why" lines for tests/run.sh.
Every wait is bounded; every process is killed at the end.

Usage: delivery_test.py D42PCAP TOPDIR TMPDIR [live]
  "live" also runs the tests that capture live inside a network namespace
  (root and iproute2 needed)."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

D42PCAP, TOP, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
LIVE = len(sys.argv) > 4 and sys.argv[4] == "live"
USER, PASSWORD = "admin", "Pa55-w0rd!x9"
DEMO = os.path.join(TOP, "tests", "data", "demo.pcapng")
DEVICES = {"10.1.1.10": "web1", "10.1.1.20": "db1", "10.1.1.53": "dns1",
           "10.1.1.5": "dc1", "10.1.1.123": "ntp1", "2001:db8:1::443": "web6"}
RUN_TIMEOUT = 90
FD_LIMITS = range(4, 64)        # descriptor limits tried (prlimit --nofile)
EMFILE_TEXT = "Too many open files|No file descriptors available"      # glibc|musl
EMPTY = os.path.join(TMP, "empty.pcap")
PROCS = []
OUTPUTS = []          # every log/output text, grepped for the password at the end


def ok(name):
    print("ok " + name, flush=True)


def fail(name, why):
    print("FAIL %s: %s" % (name, str(why).replace("\n", " | ")[:800]), flush=True)


def check(name, cond, why):
    ok(name) if cond else fail(name, why)


# ---------------------------------------------------------------- helpers

def mkcerts():
    d = os.path.join(TMP, "certs")
    subprocess.run(["sh", os.path.join(TOP, "tests", "mkcerts.sh"), d], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    return d


class Emulator:
    def __init__(self, certs, cert="server", devices=DEVICES, extra=()):
        self.portfile = os.path.join(TMP, "emu.port.%d" % time.monotonic_ns())
        if os.path.exists(self.portfile):
            os.unlink(self.portfile)
        args = [sys.executable, os.path.join(TOP, "tests", "d42_emulator.py"),
                "--port-file", self.portfile, "--user", USER, "--password", PASSWORD,
                "--cert", os.path.join(certs, cert + ".crt"),
                "--key", os.path.join(certs, cert + ".key"),
                "--quiet", "--noanswer-max", "20"] + list(extra)
        for ip, name in devices.items():
            args += ["--device", "%s=%s" % (ip, name)]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        PROCS.append(self.p)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not os.path.exists(self.portfile):
            time.sleep(0.05)
        with open(self.portfile) as f:
            self.port = int(f.read().strip())
        self.ctx = ssl._create_unverified_context()

    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url() + path, data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return r.read().decode()

    def state(self):
        return json.loads(self.control("/__state"))

    def listeners(self):
        return self.control("/__listeners")

    def fault(self, mode, count=-1, **kw):
        body = {"mode": mode} if mode == "none" else {"mode": mode, "count": count}
        body.update(kw)
        self.control("/__fault", body)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def write_config(name, emu, certs, spool, device42=None, common=None, capture=None):
    d42 = {"Host": emu.url() if emu else "", "User": USER, "Password": PASSWORD,
           "ca-file": os.path.join(certs, "ca.crt"), "timeout": 3}
    d42.update(device42 or {})
    com = {"Interval": 60, "spool-dir": spool}
    com.update(common or {})
    cfg = {"device42": d42, "common": com, "capture": capture or {}}
    path = os.path.join(TMP, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)
    return name + ".json"


def run_agent(cfgname, capture=DEMO, extra=(), timeout=RUN_TIMEOUT, wrap=()):
    args = list(wrap) + [D42PCAP, "-settings-dir", TMP, "-settings-name", cfgname] + list(extra)
    if capture:
        args += ["-r", capture]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    OUTPUTS.extend([out, err])
    return p.returncode, out, err


def expected_listeners(capture=DEMO, devices=DEVICES):
    """What the appliance must hold after delivering `capture`: from the
    agent's own local report (checked against the generator's answers by
    t_golden), every (server, port, protocol) whose server has a device,
    with the union of its clients; in the emulator's /__listeners format."""
    cfg = os.path.join(TMP, "local.json")
    with open(cfg, "w") as f:
        json.dump({"common": {"Interval": 60}}, f)
    rc, out, err = run_agent("local.json", capture)
    assert rc == 0, err
    groups = {}
    for line in out.splitlines():
        for r in json.loads(line)["communications"]:
            if r["server"] in devices:
                k = (devices[r["server"]], r["server"], r["port"], r["protocol"].upper())
                groups.setdefault(k, set()).add(r["client"])
    import ipaddress
    lines = []
    for (dev, ip, port, proto), clients in groups.items():
        cl = sorted(clients, key=lambda s: (ipaddress.ip_address(s).version,
                                            int(ipaddress.ip_address(s))))
        lines.append("%s %s %d %s %s" % (dev, ip, port, proto, ",".join(cl)))
    return "\n".join(sorted(lines))


def norm(text):
    return "\n".join(sorted(l for l in text.splitlines() if l.strip()))


def spool_files(spool):
    try:
        return sorted(f for f in os.listdir(spool) if f.endswith(".d42"))
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- tests

def test_normal(certs, want):
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-normal")
    cfg = write_config("normal", emu, certs, spool, capture={"live-entries-ok": True})
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    st = emu.state()
    emu.stop()
    check("deliver_exit_0", rc == 0, "exit %d: %s" % (rc, err[-400:]))
    check("deliver_final_state", got == want, "got:\n%s\nwant:\n%s" % (got, want))
    check("deliver_spool_emptied", spool_files(spool) == [], spool_files(spool))
    reqs = st["requests"]
    posts = [r for r in reqs if r["method"] == "POST"]
    check("deliver_requests_form_and_auth",
          posts and all(r["user"] == USER and r["auth"] == "ok" and
                        r["headers"].get("content-type") == "application/x-www-form-urlencoded"
                        for r in posts),
          "requests: %s" % posts[:2])
    ua = {r["headers"].get("user-agent") for r in reqs}
    check("deliver_user_agent", ua == {"d42pcap/0.1.0"}, ua)
    conns = {r["conn"] for r in reqs}
    check("deliver_keepalive_reuse", len(conns) < len(reqs) / 4,
          "%d connections for %d requests" % (len(conns), len(reqs)))
    check("deliver_live_entries_ok", err.count("ok: ") >= want.count(",") + want.count("\n") + 1,
          err[-300:])


def test_unknown_server_kept(certs, want):
    devs = dict(DEVICES)
    del devs["10.1.1.53"]
    emu = Emulator(certs, devices=devs)
    spool = os.path.join(TMP, "spool-unknown")
    cfg = write_config("unknown", emu, certs, spool, capture={"live-entries-nok": True})
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    emu.stop()
    want_wo = norm("\n".join(l for l in want.splitlines() if " 10.1.1.53 " not in l))
    check("unknown_server_others_delivered", rc == 0 and got == want_wo,
          "rc %d got:\n%s" % (rc, got))
    check("unknown_server_reported_nok",
          "nok: udp 10.1.10.21 -> 10.1.1.53:53 (server unknown to the appliance)" in err,
          err[-500:])
    check("unknown_server_kept_pending", ", 2 listeners waiting" in err, err[-300:])


def test_outage_restart(certs, want):
    """Appliance down: reports stay in the spool (exit 3); after a restart
    with the appliance back they are delivered, oldest first."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-outage")
    cfg = write_config("outage", emu, certs, spool)
    emu.fault("503")
    rc, out, err = run_agent(cfg)
    files = spool_files(spool)
    check("outage_exit_3", rc == 3, "exit %d: %s" % (rc, err[-300:]))
    check("outage_reports_spooled", len(files) == 3, files)
    check("outage_nothing_delivered", emu.listeners().strip() == "", emu.listeners())
    emu.fault("none")
    emu.control("/__reset", {})
    # restart: no capture this time, only what the spool holds... an offline
    # run of an empty selection replays the spool before exiting.
    rc, out, err = run_agent(cfg, capture=EMPTY)
    got = norm(emu.listeners())
    st = emu.state()
    emu.stop()
    check("outage_restart_delivers", rc == 0 and got == want, "rc %d got:\n%s" % (rc, got))
    check("outage_spool_emptied", spool_files(spool) == [], spool_files(spool))


def test_outage_order(certs):
    """Sample mode, appliance down, then a restart with it back: the spooled
    reports arrive exactly as the agent wrote them, oldest first."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-order")
    cfg = write_config("order", emu, certs, spool, device42={"upload-mode": "sample"})
    emu.fault("503")
    rc1, _, _ = run_agent(cfg)
    emu.fault("none")
    rc2, _, err = run_agent(cfg, capture=EMPTY)
    st = emu.state()
    emu.stop()
    _, local, _ = run_agent("local.json")
    want = [json.loads(l)["interval"]["start"] for l in local.splitlines()]
    got = [s["interval"]["start"] for s in st["samples"]]
    check("outage_replayed_in_order", rc1 == 3 and rc2 == 0 and got == want and len(want) == 3,
          "rc %d/%d got %s want %s" % (rc1, rc2, got, want))


FAULTS = [
    # mode, count, extra fault args, expected exit, needs a second run
    ("500", 2, {}, 0),
    ("500-license", 1, {}, 0),
    ("503", 2, {}, 0),
    ("slow", -1, {"seconds": 1}, 0),
    ("noanswer", 1, {}, 0),
    ("close-early", 2, {}, 0),
    ("close-mid", 2, {}, 0),
    ("malformed-json", 2, {}, 0),
    ("chunked", -1, {}, 0),
    ("chunked-ext", -1, {}, 0),
    ("code1", 1, {}, 0),
    ("redirect", 1, {}, 0),
    ("both-cl-te", 1, {}, 0),
    ("huge-headers", 1, {}, 0),
    ("bad-status", 1, {}, 0),
    ("nohandshake", 1, {}, 0),
]


def test_faults(certs, want):
    for mode, count, kw, want_rc in FAULTS:
        emu = Emulator(certs)
        spool = os.path.join(TMP, "spool-fault-" + mode)
        cfg = write_config("fault-" + mode, emu, certs, spool)
        emu.fault(mode, count, **kw)
        try:
            rc, out, err = run_agent(cfg)
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        got = norm(emu.listeners())
        emu.stop()
        check("fault_%s_recovers" % mode, rc == want_rc and got == want,
              "rc %d (want %d) err %s got:\n%s" % (rc, want_rc, err[-400:], got))
        if mode == "500-license":
            check("fault_license_logged", "licence problem" in err, err[-300:])
        if mode == "redirect":
            check("fault_redirect_not_followed", "redirect not followed" in err, err[-300:])


def next_attempts(err):
    """The waits the agent announced, in ms, in order."""
    return [int(m) for m in re.findall(r"next attempt in (\d+) ms", err)]


def test_retry_after(certs, want):
    """A 503's Retry-After in seconds sets the earliest next attempt (cut
    to an hour); an HTTP-date or anything else leaves the 1 s backoff."""
    cases = [("seconds", "3", 3000, 3750),
             ("date", "Wed, 21 Oct 2037 07:28:00 GMT", 1000, 1250),
             ("junk", "3x", 1000, 1250)]
    for name, value, lo, hi in cases:
        emu = Emulator(certs)
        spool = os.path.join(TMP, "spool-retry-after-" + name)
        cfg = write_config("retry-after-" + name, emu, certs, spool)
        emu.fault("503", 1, retry_after=value)
        rc, out, err = run_agent(cfg)
        got = norm(emu.listeners())
        reqs = emu.state()["requests"]
        emu.stop()
        waits = next_attempts(err)
        gap = reqs[1]["time"] - reqs[0]["time"] if len(reqs) > 1 else 0
        check("retry_after_%s_waits" % name,
              rc == 0 and got == want and len(waits) == 1 and lo <= waits[0] <= hi and
              gap >= lo / 1000.0,
              "rc %d waits %s (want %d-%d ms) gap %.2f s err %s" %
              (rc, waits, lo, hi, gap, err[-300:]))
    # Longer than an hour: an hour (plus jitter). Not waited out: the
    # announced wait is checked, then the agent is stopped.
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-retry-after-long")
    cfg = write_config("retry-after-long", emu, certs, spool)
    emu.fault("503", 1, retry_after="99999999999999999999999")
    errf = os.path.join(TMP, "retry-after-long.err")
    with open(errf, "w") as ef:
        p = subprocess.Popen([D42PCAP, "-settings-dir", TMP, "-settings-name", cfg,
                              "-r", DEMO], stdout=subprocess.DEVNULL, stderr=ef)
    PROCS.append(p)
    wait_for(lambda: next_attempts(open(errf).read()), 30)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
    err = open(errf).read()
    OUTPUTS.append(err)
    emu.stop()
    waits = next_attempts(err)
    check("retry_after_capped_at_an_hour",
          len(waits) == 1 and 3600000 <= waits[0] <= 4500000 and len(spool_files(spool)) > 0,
          "waits %s spool %s err %s" % (waits, spool_files(spool), err[-300:]))


def test_auth(certs, want):
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-auth")
    cfg = write_config("auth", emu, certs, spool, device42={"Password": "wrong-" + PASSWORD})
    rc, out, err = run_agent(cfg, timeout=30)
    st = emu.state()
    emu.stop()
    check("auth_refused_exit_3", rc == 3, "exit %d" % rc)
    check("auth_error_names_user", 'refused user "%s"' % USER in err, err[-300:])
    check("auth_no_hammering", len(st["requests"]) <= 2, "%d requests" % len(st["requests"]))
    check("auth_spool_kept", len(spool_files(spool)) == 3, spool_files(spool))


def test_tls(certs, want):
    fp = open(os.path.join(certs, "selfsigned.sha256")).read().strip()
    cases = [
        ("tls_wrong_name_refused", "wrongname", {}, 3, "verif"),
        ("tls_untrusted_refused", "selfsigned", {}, 3, "verif"),
        ("tls_fingerprint_pin_accepts_selfsigned", "selfsigned", {"tls-fingerprint": fp}, 0, None),
        ("tls_fingerprint_mismatch_refused", "server",
         {"tls-fingerprint": "00" * 32}, 3, "fingerprint"),
        ("tls_verify_off_warns", "selfsigned", {"verify-tls": False}, 0, "verif"),
    ]
    for name, cert, d42, want_rc, msg in cases:
        emu = Emulator(certs, cert=cert)
        spool = os.path.join(TMP, "spool-" + name)
        cfg = write_config(name, emu, certs, spool, device42=d42)
        rc, out, err = run_agent(cfg, timeout=60)
        got = norm(emu.listeners())
        emu.stop()
        good = rc == want_rc and (got == want if want_rc == 0 else got == "")
        if msg:
            good = good and msg in err.lower()
        if name == "tls_verify_off_warns":
            # one warning per connection, not once
            good = good and err.lower().count("warning") >= 1
        check(name, good, "rc %d err %s" % (rc, err[-400:]))


def test_sample_mode(certs):
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-sample")
    cfg = write_config("sample", emu, certs, spool, device42={"upload-mode": "sample"})
    rc, out, err = run_agent(cfg)
    st = emu.state()
    emu.stop()
    rcl, local, _ = run_agent("local.json")
    want = [json.loads(l) for l in local.splitlines()]
    got = st["samples"]
    check("sample_mode_posts_reports", rc == 0 and got == want,
          "rc %d: %d samples vs %d reports; err %s" % (rc, len(got), len(want), err[-300:]))


def test_sample_refused_set_aside(certs):
    """The appliance refuses one sample report (413: too large) every time:
    after three refusals in a row it is set aside in spool/corrupt/, the
    reports behind it get through, and -r exits 3 (not all delivered)."""
    _, local, _ = run_agent("local.json")
    lines = local.splitlines()
    first = re.search(r'"interval":\s*\{\s*"start":\s*"[^"]*"', lines[0]).group(0)
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-sample-refused")
    cfg = write_config("sample-refused", emu, certs, spool, device42={"upload-mode": "sample"})
    emu.fault("413", -1, method="POST", body=first)
    try:
        rc, out, err = run_agent(cfg, timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = emu.state()["samples"]
    emu.stop()
    aside = []
    cdir = os.path.join(spool, "corrupt")
    for f in (sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []):
        with open(os.path.join(cdir, f), "rb") as fh:
            aside.append(first.encode() in fh.read())
    check("sample_refused_report_set_aside",
          rc == 3 and got == [json.loads(l) for l in lines[1:]] and
          spool_files(spool) == [] and aside == [True] and
          "(HTTP 413) 3 times in a row" in err and
          "1 reports refused by the appliance" in err,
          "rc %d: %d samples, set aside %s; err %s" % (rc, len(got), aside, err[-500:]))


def test_start_out_of_fds(certs):
    """Whatever descriptor limit the agent starts under, no spooled report is
    deleted or set aside: where the spool cannot be read, the agent does not
    start. Limits from the smallest up to the first that lets it try the
    appliance (down: it keeps the reports, exit 3); every run before exits
    non-zero."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-start-nofds")
    cfg = write_config("start-nofds", emu, certs, spool)
    emu.fault("503")
    run_agent(cfg)
    files = spool_files(spool)
    runs, err, stopped = [], "", 0
    for n in FD_LIMITS:
        rc, out, err = run_agent(cfg, capture=EMPTY, wrap=["prlimit", "--nofile=%d" % n])
        runs.append((n, rc, spool_files(spool) == files))
        # EMFILE in glibc's words or musl's (the static build's)
        stopped += bool(re.search("cannot open the spool in %s: (%s)" % (re.escape(spool), EMFILE_TEXT),
                                  err))
        if rc == 3 or spool_files(spool) != files:
            break
    cdir = os.path.join(spool, "corrupt")
    aside = os.listdir(cdir) if os.path.isdir(cdir) else []
    emu.stop()
    check("start_nofds_nothing_lost",
          len(files) == 3 and runs and runs[-1][1] == 3 and aside == [] and stopped and
          all(kept and rc != 0 for _, rc, kept in runs),
          "spooled %s; runs (limit, exit, all kept) %s, %d stopped at the spool; "
          "set aside %s: %s" % (files, runs, stopped, aside, err[-300:]))


def gen_capture(name, build):
    """A capture made with tests/gen_pcap.py's builders: build(G, cap)."""
    sys.path.insert(0, os.path.join(TOP, "tests"))
    import gen_pcap as G
    cap = G.Capture(G.LT_EN10MB, comment=name)
    build(G, cap)
    path = os.path.join(TMP, name + ".pcap")
    cap.write(path)
    return path


def test_unusable_records_counted_once(certs):
    """Records that name no listener (SYNs to port 0) read with a listener
    whose POST fails once: the retry reads them again, the summary counts
    them once (as a run without the failure does)."""
    def build(G, c):
        t = G.SUITE_T0 + G.NS
        c.add(G.tcp_session("10.1.5.1", 41000, "10.1.1.10", 80, t, 1))
        c.add(G.tcp_pkt(t + G.NS, "10.1.5.2", "10.1.1.10", 41001, 0, G.F_SYN))
        c.add(G.tcp_pkt(t + G.NS, "10.1.5.4", "10.1.1.10", 41003, 0, G.F_SYN))
        c.add(G.tcp_session("10.1.5.3", 41002, "10.1.1.20", 5432, t + 2 * G.NS, 1))
    cap = gen_capture("port0twice", build)
    counts = []
    for name, fault in (("port0-clean", 0), ("port0-failed", 1)):
        emu = Emulator(certs)
        if fault:
            emu.fault("500-plain", fault, method="POST", body="listening_ip=10.1.1.10&")
        cfg = write_config(name, emu, certs, os.path.join(TMP, "spool-" + name))
        rc, out, err = run_agent(cfg, capture=cap)
        emu.stop()
        counts.append((rc, summary_counts(err)))
    check("deliver_unusable_records_counted_once",
          counts[0][0] == 0 and counts[1][0] == 0 and counts[0][1] and
          counts[0][1] == counts[1][1] and counts[0][1][2] >= 2,
          "clean %s, failed once %s" % (counts[0], counts[1]))


def intervals_capture(name, n, interval=10):
    """n intervals of `interval` seconds, one TCP session each (a listener
    on 10.1.1.10:2000+i), so every report differs."""
    def build(G, c):
        for i in range(n):
            t = G.SUITE_T0 + (interval * i + 1) * G.NS
            c.add(G.tcp_session("10.1.5.%d" % (i + 1), 40000 + i, "10.1.1.10",
                                2000 + i, t, 1))
    return gen_capture(name, build)


def test_read_waits_for_delivery(certs):
    """A file is read much faster than the appliance takes its reports: with
    room for one report in the spool (on disk, and in memory), reading
    waits for delivery instead of pushing undelivered reports out; every
    interval arrives, in order, and the run exits 0."""
    n = 6
    cap = intervals_capture("waits", n)
    for name, spool in (("waits-disk", os.path.join(TMP, "spool-waits")),
                        ("waits-memory", "/dev/null/spool")):
        emu = Emulator(certs)
        emu.fault("slow", 3, seconds=0.5)
        cfg = write_config(name, emu, certs, spool, device42={"upload-mode": "sample"},
                           common={"Interval": 10, "spool-max-files": 1},
                           capture={"live-entries-ok": True})
        rc, out, err = run_agent(cfg, capture=cap)
        st = emu.state()
        emu.stop()
        starts = [s["interval"]["start"] for s in st["samples"]]
        # one record a report, each listed once as it is written
        check("deliver_%s_every_interval" % name.replace("-", "_"),
              rc == 0 and len(starts) == n and starts == sorted(starts) and
              "dropped" not in err and err.count("ok: ") == n,
              "rc %d, %d of %d intervals %s, %d ok lines: %s" %
              (rc, len(starts), n, starts, err.count("ok: "), err[-800:]))


def test_read_stops_when_spool_full(certs):
    """Reading a file with the appliance down and room for one report: the
    agent does not read on and push that report out; after four failures it
    stops, says the rest of the file was not read, keeps the report and
    exits 3."""
    cap = intervals_capture("stops", 4)
    emu = Emulator(certs)
    emu.fault("503")
    spool = os.path.join(TMP, "spool-stops")
    cfg = write_config("stops", emu, certs, spool, device42={"upload-mode": "sample"},
                       common={"Interval": 10, "spool-max-files": 1})
    rc, out, err = run_agent(cfg, capture=cap)
    emu.stop()
    check("deliver_read_stops_when_spool_full",
          rc == 3 and "the rest of the file was not read" in err and
          "dropped" not in err and spool_files(spool) == ["0000000000000001.d42"],
          "rc %d, spool %s: %s" % (rc, spool_files(spool), err[-800:]))


def test_read_growing_reports(certs):
    """Reading a file, a report larger than half the spool bound must not
    push out an earlier one not yet delivered (until 2026-11-29 reading
    went on below half the bound, so a 52 KB report after a 31 KB one in
    64 KiB dropped the first when one POST failed, and the run exited 0).
    Both intervals' servers reach the appliance, nothing is dropped, and
    the run exits 0; on disk and in memory."""
    def build(G, c):
        t = G.SUITE_T0 + G.NS
        for k in range(90):     # about 31 KB of report
            c.add(G.tcp_session("10.1.6.%d" % (1 + k), 40000 + k, "10.1.1.10", 80,
                                t + k * G.NS // 1000, 1))
        t = G.SUITE_T0 + 11 * G.NS
        for k in range(150):    # about 52 KB
            c.add(G.tcp_session("10.1.7.%d" % (1 + k), 40000 + k, "10.1.1.20", 5432,
                                t + k * G.NS // 1000, 1))
    cap = gen_capture("growing", build)
    for name, spool in (("disk", os.path.join(TMP, "spool-growing")),
                        ("memory", "/dev/null/spool")):
        emu = Emulator(certs)
        emu.fault("503", 1)
        cfg = write_config("growing-" + name, emu, certs, spool,
                           common={"Interval": 10, "max-flows": 160,
                                   "spool-max-bytes": 65536})
        rc, out, err = run_agent(cfg, capture=cap)
        got = emu.listeners()
        emu.stop()
        check("deliver_read_growing_reports_" + name,
              rc == 0 and "dropped" not in err and
              "web1 10.1.1.10 80 TCP" in got and "db1 10.1.1.20 5432 TCP" in got,
              "rc %d, listeners %r: %s" % (rc, got, err[-800:]))


def test_report_over_spool_bound_lost_counted(certs):
    """A report larger than spool-max-bytes cannot be kept: it is lost, and
    the spool says so and counts it, as for any other report it loses."""
    def build(G, c):
        t = G.SUITE_T0 + G.NS
        for k in range(400):    # about 350 bytes a record: over 64 KiB
            c.add(G.tcp_session("10.1.%d.%d" % (6 + k // 200, 1 + k % 200), 40000 + k,
                                "10.1.1.10", 80, t + k * G.NS // 1000, 1))
    cap = gen_capture("overbound", build)
    emu = Emulator(certs)
    cfg = write_config("overbound", emu, certs, os.path.join(TMP, "spool-overbound"),
                       common={"spool-max-bytes": 65536})
    rc, out, err = run_agent(cfg, capture=cap)
    emu.stop()
    check("deliver_report_over_spool_bound_lost_counted",
          rc == 1 and "larger than the spool bound" in err and
          re.search(r"report for interval \d+-\d+ lost, 1 dropped so far", err),
          "rc %d: %s" % (rc, err[-800:]))


def test_port_zero_skipped(certs):
    """A SYN to port 0 makes a record the appliance cannot take: that record
    is skipped, not the report around it."""
    def build(G, c):
        t = G.SUITE_T0 + G.NS
        c.add(G.tcp_session("10.1.5.1", 41000, "10.1.1.10", 80, t, 1))
        c.add(G.tcp_pkt(t + G.NS, "10.1.5.2", "10.1.1.10", 41001, 0, G.F_SYN))
        c.add(G.tcp_session("10.1.5.3", 41002, "10.1.1.20", 5432, t + 2 * G.NS, 1))
    cap = gen_capture("port0", build)
    want = norm("\n".join(l for l in expected_listeners(cap).splitlines()
                           if " 0 TCP " not in l))
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-port0")
    cfg = write_config("port0", emu, certs, spool)
    rc, out, err = run_agent(cfg, capture=cap)
    got = norm(emu.listeners())
    emu.stop()
    check("deliver_port_zero_skipped",
          rc == 0 and got == want and want.count("\n") == 1 and
          spool_files(spool) == [] and not os.path.exists(os.path.join(spool, "corrupt")),
          "rc %d got:\n%s\nwant:\n%s\n%s" % (rc, got, want, err[-400:]))


def run_dns1_faulted(certs, name, mode, timeout):
    """Delivers the demo while every POST for 10.1.1.53's listener gets the
    fault MODE: (exit status, stderr, listeners the appliance holds, spool)."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-" + name)
    cfg = write_config(name, emu, certs, spool)
    emu.fault(mode, -1, method="POST", body="listening_ip=10.1.1.53&")
    try:
        rc, out, err = run_agent(cfg, timeout=timeout)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = norm(emu.listeners())
    emu.stop()
    return rc, err, got, spool


def test_listener_failing_backs_off(certs):
    """One listener refused again and again: the earlier listeners of the
    report, posted again on every retry, must not reset the backoff."""
    rc, err, _, _ = run_dns1_faulted(certs, "backoff", "500-plain", 45)
    waits = [int(w) for w in re.findall(r"next attempt in (\d+) ms", err)]
    check("deliver_listener_failure_backs_off",
          rc == 3 and len(waits) >= 3 and waits[2] >= 3000,
          "rc %d waits %s: %s" % (rc, waits, err[-400:]))


def test_listener_refused_left_out(certs, want):
    """The appliance answers one listener's POST with 400 every time: after
    three refusals in a row it is left out, and the reports get through."""
    rc, err, got, spool = run_dns1_faulted(certs, "refused", "400", 60)
    others = norm("\n".join(l for l in want.splitlines() if " 10.1.1.53 " not in l))
    check("deliver_refused_listener_left_out",
          rc == 0 and got == others and spool_files(spool) == [] and
          "the appliance refused 10.1.1.53:53 (HTTP 400) 3 times in a row" in err,
          "rc %d got:\n%s\n%s" % (rc, got, err[-500:]))


def summary_counts(err):
    m = re.search(r"(\d+) reports delivered, (\d+) records accepted, "
                  r"(\d+) for unknown servers", err)
    return tuple(int(x) for x in m.groups()) if m else None


def test_retry_counts_once(certs):
    """A report retried after a failure at a late listener posts its earlier
    listeners again; the summary counts each of its records once."""
    counts = []
    for name, fault in (("counts-clean", None), ("counts-retried", 2)):
        devs = dict(DEVICES)
        del devs["10.1.1.20"]       # some records for an unknown server too
        emu = Emulator(certs, devices=devs)
        if fault:
            emu.fault("500-plain", fault, method="POST", body="listening_ip=10.1.1.53&")
        cfg = write_config(name, emu, certs, os.path.join(TMP, "spool-" + name))
        rc, out, err = run_agent(cfg)
        emu.stop()
        counts.append((rc, summary_counts(err)))
    (rc0, c0), (rc1, c1) = counts
    check("deliver_retry_counts_records_once",
          rc0 == 0 and rc1 == 0 and c0 and c0 == c1 and c0[1] > 0 and c0[2] > 0,
          "clean %s, retried %s" % (counts[0], counts[1]))


def test_unreadable_remote_ips(certs, want):
    """The appliance's remote_ips for one listener cannot be read (a comma
    list longer than the form buffer): that listener is left alone this
    time, every other one is delivered."""
    emu = Emulator(certs, extra=("--remote-ips-style", "csv"))
    ips = ["10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256, i % 256) for i in range(12000)]
    emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.1.10",
                                "port": 80, "protocol": "TCP", "remote_ips": ips})
    spool = os.path.join(TMP, "spool-unreadable")
    cfg = write_config("unreadable", emu, certs, spool)
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    emu.stop()
    others = norm("\n".join(l for l in want.splitlines() if not l.startswith("web1 10.1.1.10 80 ")))
    got_others = norm("\n".join(l for l in got.splitlines() if not l.startswith("web1 10.1.1.10 80 ")))
    check("deliver_unreadable_remote_ips_skips_one",
          rc == 0 and got_others == others and spool_files(spool) == [] and
          "cannot read the remote IPs the appliance has for 10.1.1.10:80; not updated" in err,
          "rc %d got:\n%s\n%s" % (rc, got_others[:600], err[-400:]))


def test_coded_refusal_left_out(certs, want):
    """A 200 whose "code" is not 0 is the API's refusal too: after three in
    a row the listener is left out and the reports get through (before, it
    was retried for ever and every later report waited behind it)."""
    rc, err, got, spool = run_dns1_faulted(certs, "coded", "code1", 60)
    others = norm("\n".join(l for l in want.splitlines() if " 10.1.1.53 " not in l))
    check("deliver_coded_refusal_left_out",
          rc == 0 and got == others and spool_files(spool) == [] and
          "the appliance refused 10.1.1.53:53 (code 1) 3 times in a row" in err,
          "rc %d got:\n%s\n%s" % (rc, got, err[-500:]))


def run_lookup_faulted(certs, name, mode, path, count, method="GET"):
    """Delivers the demo while the first COUNT requests under PATH get the
    fault MODE: (exit status, stderr, listeners the appliance holds)."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-" + name)
    cfg = write_config(name, emu, certs, spool, capture={"live-entries-nok": True})
    emu.fault(mode, count, path=path, method=method)
    try:
        rc, out, err = run_agent(cfg, timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = norm(emu.listeners())
    emu.stop()
    return rc, err, got


def known_taken_unknown(err):
    """Servers the appliance knows that the agent said it did not."""
    said = re.findall(r"-> \[?([0-9a-f:.]+?)\]?:\d+ \(server unknown to the appliance\)", err)
    return sorted(set(ip for ip in said if ip in DEVICES))


def test_lookup_errors_retried(certs, want):
    """A lookup answered 200 with "code" other than 0 (the appliance busy,
    its database locked) says nothing of the device or its listeners: it
    is retried, and everything gets through. Before, an IP lookup's was
    taken for "device unknown" (the listener held in memory only, its
    report deleted) and a listing's for a reply without a list (the
    listener left out)."""
    for name, path in (("ips", "/api/1.0/ips/"),
                       ("listing", "/api/2.0/service_listener_ports/")):
        rc, err, got = run_lookup_faulted(certs, "lookup-coded-" + name, "code1", path, 2)
        check("lookup_coded_%s_retried" % name,
              rc == 0 and got == want and "answered with an error (code 1)" in err and
              not known_taken_unknown(err) and "not updated" not in err,
              "rc %d taken for unknown %s got:\n%s\n%s" %
              (rc, known_taken_unknown(err), got, err[-500:]))


def test_ips_reply_without_list(certs, want):
    """An IP lookup's 200 without an "ips" list is not the answer known:
    as with a listing without "service_ports", that listener is left out
    (asking again would get the same), not taken for one whose device the
    appliance does not know."""
    rc, err, got = run_lookup_faulted(certs, "ips-no-list", "no-list", "/api/1.0/ips/", 1)
    missing = [l for l in want.splitlines() if l not in got.splitlines()]
    check("ips_reply_without_list_left_out",
          rc == 0 and len(missing) == 1 and 'the reply has no "ips" list' in err and
          not known_taken_unknown(err),
          "rc %d missing %s taken for unknown %s\n%s" %
          (rc, missing, known_taken_unknown(err), err[-500:]))


def test_error_page_too_large(certs, want):
    """A 503 whose body is over the 4 MiB a reply may have: its status and
    Retry-After still count (retried, not before the wait), rather than
    the listener being left out as for a listing that large."""
    rc, err, got = run_lookup_faulted(certs, "huge-error", "huge-error",
                                      "/api/2.0/service_listener_ports/", 2)
    waits = next_attempts(err)
    check("error_page_too_large_retried",
          rc == 0 and got == want and "HTTP 503 with a body over" in err and
          len(waits) == 2 and min(waits) >= 1000 and "not updated" not in err,
          "rc %d waits %s got:\n%s\n%s" % (rc, waits, got, err[-500:]))


def test_lookup_refused_4xx(certs):
    """An IP lookup or a listing answered 400 every time: a refusal no retry
    changes until the operator acts. Logged as an error once, the next
    attempt at the longest backoff (5 min), every report kept in the spool,
    and a file run stops at once with exit 3 (before: a warning per attempt
    at 1, 2, 4 s, until the fourth failure)."""
    for name, path in (("ips", "/api/1.0/ips/"),
                       ("listing", "/api/2.0/service_listener_ports/")):
        emu = Emulator(certs)
        spool = os.path.join(TMP, "spool-lookup-400-" + name)
        cfg = write_config("lookup-400-" + name, emu, certs, spool)
        emu.fault("400", -1, path=path, method="GET")
        try:
            rc, out, err = run_agent(cfg, timeout=60)
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        asked = [r for r in emu.state()["requests"] if r["path"] == path]
        emu.stop()
        waits = next_attempts(err)
        check("lookup_400_%s_waits_for_operator" % name,
              rc == 3 and len(asked) == 1 and
              err.count("the appliance refuses the request as such") == 1 and
              len(waits) == 1 and waits[0] >= 300000 and len(spool_files(spool)) == 3,
              "rc %d, %d lookups, waits %s, spool %s\n%s" %
              (rc, len(asked), waits, spool_files(spool), err[-500:]))


HUGE = ("--huge-body-bytes", str(5 << 20))      # just over the 4 MiB a reply may have


def test_post_answer_too_large(certs, want):
    """A listener POST the appliance carries out but answers 200 with a body
    over 4 MiB was accepted: it is not posted again (before, every such
    answer was retried as a failure, re-posting what the appliance had
    taken, until the run gave up with exit 3). Sample mode alike: each
    report is uploaded once, not again."""
    emu = Emulator(certs, extra=HUGE)
    cfg = write_config("post-huge-clean", emu, certs, os.path.join(TMP, "spool-post-huge-clean"))
    rc0, _, _ = run_agent(cfg)
    clean = len([r for r in emu.state()["requests"] if r["method"] == "POST"])
    emu.stop()
    emu = Emulator(certs, extra=HUGE)
    spool = os.path.join(TMP, "spool-post-huge")
    cfg = write_config("post-huge", emu, certs, spool)
    emu.fault("huge-accepted", -1, method="POST")
    try:
        rc, out, err = run_agent(cfg, timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = norm(emu.listeners())
    posts = len([r for r in emu.state()["requests"] if r["method"] == "POST"])
    emu.stop()
    check("post_answer_too_large_taken",
          rc0 == 0 and rc == 0 and got == want and posts == clean and
          spool_files(spool) == [] and "taken as accepted" in err,
          "rc %d/%d posts %d (clean %d) got:\n%s\n%s" % (rc0, rc, posts, clean, got, err[-500:]))

    _, local, _ = run_agent("local.json")
    emu = Emulator(certs, extra=HUGE)
    spool = os.path.join(TMP, "spool-sample-huge")
    cfg = write_config("sample-huge", emu, certs, spool, device42={"upload-mode": "sample"})
    emu.fault("huge-accepted", -1, method="POST")
    try:
        rc, out, err = run_agent(cfg, timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = emu.state()["samples"]
    emu.stop()
    check("sample_answer_too_large_taken",
          rc == 0 and got == [json.loads(l) for l in local.splitlines()] and
          spool_files(spool) == [] and "taken as accepted" in err,
          "rc %d: %d samples; err %s" % (rc, len(got), err[-500:]))


def test_ips_reply_too_large(certs):
    """An IP lookup answered 200 with a body over 4 MiB, every time: asking
    again cannot shrink it, so its listener is left out, as for a listing
    that large (before, it was retried until the run gave up, exit 3, and
    every report waited behind it)."""
    emu = Emulator(certs, extra=HUGE)
    spool = os.path.join(TMP, "spool-ips-huge")
    cfg = write_config("ips-huge", emu, certs, spool)
    emu.fault("huge-body", -1, path="/api/1.0/ips/", method="GET")
    try:
        rc, out, err = run_agent(cfg, timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = norm(emu.listeners())
    emu.stop()
    check("ips_reply_too_large_left_out",
          rc == 0 and got == "" and spool_files(spool) == [] and
          "IP lookup of 10.1.1.5: the reply is larger than" in err,
          "rc %d got:\n%s\n%s" % (rc, got, err[-500:]))


def test_two_refused_listeners(certs, want):
    """Two listeners of a report refused every time: the first, once left
    out, stays out while the second is refused (a retry resumes after it),
    so both are left out and the reports get through. Before, the first
    was refused afresh on every retry and neither ever got out."""
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-tworefused")
    cfg = write_config("tworefused", emu, certs, spool)
    emu.fault("400", -1, method="POST", body="device_name=db1&")
    try:
        rc, out, err = run_agent(cfg, timeout=90)
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    got = norm(emu.listeners())
    emu.stop()
    others = norm("\n".join(l for l in want.splitlines() if not l.startswith("db1 ")))
    check("deliver_two_refused_listeners_left_out",
          rc == 0 and got == others and spool_files(spool) == [] and
          err.count("3 times in a row; left out of this report") >= 2,
          "rc %d got:\n%s\n%s" % (rc, got, err[-600:]))


def test_retry_resumes(certs):
    """A failure at a late listener: the retry resumes there, the listeners
    before it are not posted a second time: the POSTs the appliance took,
    per listener, are those of a run without the failure."""
    runs = []
    for name, fault in (("resume-clean", 0), ("resume-failed", 1)):
        emu = Emulator(certs)
        cfg = write_config(name, emu, certs, os.path.join(TMP, "spool-" + name))
        if fault:
            emu.fault("500-plain", fault, method="POST", body="listening_ip=10.1.1.53&")
        rc, out, err = run_agent(cfg)
        rc = rc if not fault or "POST /api/2.0/service_listener_ports/: HTTP 500" in err or \
            "listener update: HTTP 500" in err else "no 500 seen: " + err[-300:]
        posts = {}
        for r in emu.state()["requests"]:
            form = r.get("form") or {}
            if r["method"] == "POST" and "listening_ip" in form:
                k = "%s:%s" % (form["listening_ip"], form.get("port"))
                posts[k] = posts.get(k, 0) + 1
        emu.stop()
        runs.append((rc, posts))
    (rc0, p0), (rc1, p1) = runs
    dns = "10.1.1.53:53"
    check("deliver_retry_resumes_after_posted",
          rc0 == 0 and rc1 == 0 and p0 and p1 == p0,
          "clean %s, failed once %s" % (p0, p1))


def test_renamed_device(certs, want):
    """web1 is renamed on the appliance after its first listener is posted:
    the agent's cached name is refused (400, no such device), so it asks
    for the name again and posts web1's other listeners under the new one;
    none is left out as refused."""
    emu = Emulator(certs)
    emu.control("/__rename", {"from": "web1", "to": "web1-renamed", "after_posts": 1})
    spool = os.path.join(TMP, "spool-rename")
    cfg = write_config("rename", emu, certs, spool)
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    lookups = [r for r in emu.state()["requests"]
               if r["path"] == "/api/1.0/ips/" and r["query"] == "ip=10.1.1.10"]
    emu.stop()
    # every listener of web1 is there, under either name
    check("deliver_renamed_device_asked_again",
          rc == 0 and got.replace("web1-renamed ", "web1 ") == want and
          "web1-renamed " in got and len(lookups) == 2 and "refused" not in err and
          spool_files(spool) == [],
          "rc %d, %d lookups of 10.1.1.10, got:\n%s\n%s" % (rc, len(lookups), got, err[-600:]))


def test_post_404_asks_again(certs, want):
    """A POST answered 404 (the device deleted or renamed since its name was
    cached) has the server's name asked for again at the next attempt, as
    a listing's 404 does, rather than posting under the cached name for up
    to 15 minutes; everything is delivered once the fault is gone."""
    emu = Emulator(certs)
    emu.fault("404", 1, method="POST", body="listening_ip=10.1.1.10")
    spool = os.path.join(TMP, "spool-post404")
    cfg = write_config("post404", emu, certs, spool)
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    lookups = [r for r in emu.state()["requests"]
               if r["path"] == "/api/1.0/ips/" and r["query"] == "ip=10.1.1.10"]
    emu.stop()
    check("deliver_post_404_asks_again",
          rc == 0 and got == want and len(lookups) == 2 and spool_files(spool) == [],
          "rc %d, %d lookups of 10.1.1.10, got:\n%s\n%s" % (rc, len(lookups), got, err[-600:]))


def seeded_emulator(certs, ips, extra=()):
    """An emulator whose web1 10.1.1.10:443 listener already holds ips."""
    emu = Emulator(certs, extra=extra)
    emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.1.10",
                                "port": 443, "protocol": "TCP", "remote_ips": ips})
    return emu


def web1_443(listeners):
    return [l for l in listeners.splitlines() if l.startswith("web1 10.1.1.10 443 ")]


def test_remote_ips_never_shrunk(certs, want):
    """The appliance's remote_ips for a listener must never shrink: when some
    cannot be read (objects instead of strings), when they and ours are more
    than a POST carries (3,000), or when the listing is more JSON values than
    the agent parses (70,000): that listener is left as it is, with a
    warning, and the rest delivered."""
    cases = (
        # objects: every listener the appliance already has is unreadable,
        # so only the first report's new ones are posted: others not compared
        ("objects", ["192.168.5.1", "192.168.5.2"], ("--remote-ips-style", "objects"),
         "cannot read the remote IPs the appliance has for 10.1.1.10:443"),
        ("over2048", ["10.%d.%d.%d" % (200, i // 256, i % 256) for i in range(3000)], (),
         "more than the 2048 a POST carries; not updated"),
        # each address is two values (remote_ips and remote_ips_ids)
        ("tokens", ["10.%d.%d.%d" % (201 + i // 65536, i // 256 % 256, i % 256)
                    for i in range(34000)], (),
         "are more than 65536 JSON values; 10.1.1.10:443 not updated"),
    )
    for name, ips, extra, msg in cases:
        emu = seeded_emulator(certs, ips, extra)
        before = web1_443(norm(emu.listeners()))
        spool = os.path.join(TMP, "spool-shrink-" + name)
        cfg = write_config("shrink-" + name, emu, certs, spool)
        try:
            rc, out, err = run_agent(cfg, timeout=120)
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        got = norm(emu.listeners())
        emu.stop()
        others = [l for l in got.splitlines() if not l.startswith("web1 10.1.1.10 443 ")]
        want_others = [l for l in want.splitlines() if not l.startswith("web1 10.1.1.10 443 ")]
        check("deliver_remote_ips_never_shrunk_" + name,
              rc == 0 and web1_443(got) == before and
              (name == "objects" or others == want_others) and
              spool_files(spool) == [] and msg in err,
              "rc %d web1:443 %d -> %d chars: %s" % (rc, len("".join(before)),
                                                     len("".join(web1_443(got))), err[-500:]))


def test_listing_paged(certs, want):
    """The appliance's listing comes one record a page (--page-limit 1), and
    web1 10.1.1.10:443 is its second record on port 443 (web1 also listens
    on 10.1.1.11): its remote_ips are read from the second page and kept.
    With 64 records ahead of it, more pages than the agent reads, that
    listener is left as it is, with a warning, and the rest delivered."""
    kept = ["198.51.100.1", "198.51.100.2"]
    for name, ahead in (("paged", 1), ("pages_over", 64)):
        emu = Emulator(certs, extra=("--page-limit", "1"))
        for k in range(ahead):
            emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.2.%d" % k,
                                        "port": 443, "protocol": "TCP"})
        emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.1.10",
                                    "port": 443, "protocol": "TCP", "remote_ips": kept})
        before = web1_443(norm(emu.listeners()))
        spool = os.path.join(TMP, "spool-" + name)
        cfg = write_config(name, emu, certs, spool)
        rc, out, err = run_agent(cfg, timeout=120)
        got = norm(emu.listeners())
        emu.stop()
        ours = [l for l in got.splitlines() if not l.startswith("web1 10.1.2.")]
        if name == "paged":
            w443 = web1_443(want)[0].split(" ")
            clients = sorted(set(w443[4].split(",")) | set(kept),
                             key=lambda a: [int(x) for x in a.split(".")])
            exp = norm("\n".join(l if not l.startswith("web1 10.1.1.10 443 ") else
                                  " ".join(w443[:4] + [",".join(clients)])
                                  for l in want.splitlines()))
            good = rc == 0 and "\n".join(ours) == exp
        else:
            others = [l for l in want.splitlines() if not l.startswith("web1 10.1.1.10 443 ")]
            good = (rc == 0 and web1_443(got) == before and
                    [l for l in ours if not l.startswith("web1 10.1.1.10 443 ")] == others and
                    "more than 64 pages; 10.1.1.10:443 not updated" in err)
        check("deliver_listing_" + name, good and spool_files(spool) == [],
              "rc %d got:\n%s\n%s" % (rc, "\n".join(ours), err[-500:]))


def test_reply_quirks(certs, want):
    """Replies in shapes the API allows but the emulator does not use by
    default (its --quirk). A POST answered with "code" as "0" or 0.0,
    without "code", or 204 without a body was accepted: delivered, not
    retried for ever. A listing whose total_count is "2" or 2.0 is still
    paged (web1 10.1.1.10:443 on the second page keeps its remote IPs), one
    whose protocol is 6 (as the appliance stores it) still names our
    listener, one that ignores the port filter does not have another
    port's record taken for ours (its clients would be posted to 443 for
    good). A listing without "service_ports", or over the 4 MiB a reply
    may be, leaves the listener as it is, with a warning."""
    kept = ["198.51.100.1", "198.51.100.2"]
    w443 = web1_443(want)[0].split(" ")
    merged = norm("\n".join(
        l if not l.startswith("web1 10.1.1.10 443 ") else
        " ".join(w443[:4] + [",".join(sorted(set(w443[4].split(",")) | set(kept),
                                             key=lambda a: [int(x) for x in a.split(".")]))])
        for l in want.splitlines()))
    other = "web1 10.1.1.10 8080 TCP 203.0.113.5"
    cases = (
        ("code-string", (), want), ("code-float", (), want), ("no-code", (), want),
        ("post-empty", (), want),
        ("total-string", ("--page-limit", "1"), merged),
        ("total-float", ("--page-limit", "1"), merged),
        ("exponents", ("--page-limit", "1"), merged),
        ("protocol-number", (), merged),
        ("device-upper", (), merged),
        ("ignore-port-filter", (), norm(merged + "\n" + other)),
        ("no-service-ports", (), None), ("listing-padding", (), None),
    )
    msgs = {"no-service-ports": 'the reply has no "service_ports" list',
            "listing-padding": "is larger than 4194304 bytes; 10.1.1.10:443 not updated"}
    for quirk, extra, exp in cases:
        emu = Emulator(certs, extra=("--quirk", quirk) + extra)
        if extra:       # web1:443 on the second page
            emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.2.1",
                                        "port": 443, "protocol": "TCP"})
        if exp is not want:
            emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.1.10",
                                        "port": 443, "protocol": "TCP", "remote_ips": kept})
        if quirk == "ignore-port-filter":
            emu.control("/__listener", {"device_name": "web1", "listening_ip": "10.1.1.10",
                                        "port": 8080, "protocol": "TCP",
                                        "remote_ips": ["203.0.113.5"]})
        before = norm(emu.listeners())
        spool = os.path.join(TMP, "spool-quirk-" + quirk)
        cfg = write_config("quirk-" + quirk, emu, certs, spool)
        try:
            rc, out, err = run_agent(cfg, timeout=120)
        except subprocess.TimeoutExpired:
            rc, err = -1, "timed out"
        got = norm(emu.listeners())
        emu.stop()
        got = "\n".join(l for l in got.splitlines() if not l.startswith("web1 10.1.2."))
        if exp is None:
            good = web1_443(got) == web1_443(before) and msgs[quirk] in err
        else:
            good = got == exp
        check("deliver_quirk_" + quirk, rc == 0 and good and spool_files(spool) == [],
              "rc %d got:\n%s\n%s" % (rc, got, err[-600:]))


def test_long_device_name(certs):
    """Device names of up to 255 bytes (here 85 three-byte characters) are
    the appliance's names like any other: the listeners of 10.1.1.10 are
    posted under it, not held as if the appliance did not know it."""
    devices = dict(DEVICES)
    devices["10.1.1.10"] = "\u9577" * 85
    emu = Emulator(certs, devices=devices)
    spool = os.path.join(TMP, "spool-longname")
    cfg = write_config("longname", emu, certs, spool)
    rc, out, err = run_agent(cfg, timeout=120)
    got = norm(emu.listeners())
    emu.stop()
    check("deliver_long_device_name", rc == 0 and got == norm(expected_listeners(devices=devices))
          and spool_files(spool) == [], "rc %d got:\n%s\n%s" % (rc, got, err[-500:]))


def test_many_ipv6_clients(certs):
    """2,000 IPv6 clients of the longest text form on one listener: all
    posted (the form is sized for 2,048 of them)."""
    n = 2000

    def build(G, c):
        for i in range(n):
            c.add(G.tcp_pkt(G.SUITE_T0 + G.NS + i * G.MS,
                            "2001:db8:1111:2222:3333:4444:%x:%x" % (0x8000 + i // 4096, 0x8000 + i),
                            "2001:db8:1::443", 40000 + i % 1000, 443, G.F_SYN))
    cap = gen_capture("v6many", build)
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-v6many")
    cfg = write_config("v6many", emu, certs, spool)
    rc, out, err = run_agent(cfg, capture=cap)
    got = emu.listeners().split()
    emu.stop()
    clients = got[4].split(",") if len(got) == 5 else []
    check("deliver_many_ipv6_clients", rc == 0 and len(clients) == n and "too large" not in err,
          "rc %d, %d clients: %s" % (rc, len(clients), err[-400:]))


def test_reresolve_after_connect_timeout(certs):
    """The appliance's name moves away from an address that drops SYNs: after
    the connect timed out, the next attempt looks the name up again. Runs in
    a mount namespace of its own, with a bind-mounted /etc/hosts."""
    name = "deliver_reresolve_after_connect_timeout"
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        print("SKIP %s: needs root and unshare -m" % name)
        return
    emu = Emulator(certs)
    # 127.0.0.2 on the emulator's port: a listener whose queue is full, so
    # SYNs go unanswered (no reset: a timeout, not a failed connect()).
    hole = socket.socket()
    hole.bind(("127.0.0.2", emu.port))
    hole.listen(0)
    fill = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.2", emu.port))
        fill.append(f)
    hosts = os.path.join(TMP, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.2 localhost\n")
    spool = os.path.join(TMP, "spool-reresolve")
    cfg = write_config("reresolve", emu, certs, spool,
                       device42={"Host": "https://localhost:%d" % emu.port, "timeout": 1})
    errpath = os.path.join(TMP, "reresolve.err")
    p = subprocess.Popen(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
                          hosts, D42PCAP, "-settings-dir", TMP, "-settings-name", cfg,
                          "-r", DEMO], stdout=subprocess.DEVNULL, stderr=open(errpath, "w"))
    PROCS.append(p)
    # the same file (inode) the namespace sees: rewritten in place
    moved = wait_for(lambda: "timed out" in open(errpath).read(), 30)
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -9
    err = open(errpath).read()
    OUTPUTS.append(err)
    got = norm(emu.listeners())
    emu.stop()
    for f in fill + [hole]:
        f.close()
    check(name, moved and rc == 0 and got and spool_files(spool) == [],
          "rc %d, timeout seen %s: %s" % (rc, moved, err[-500:]))


class ConnectProxy(threading.Thread):
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records its tunnels."""

    def __init__(self):
        super().__init__(daemon=True)
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(8)
        self.s.settimeout(30)
        self.port = self.s.getsockname()[1]
        self.tunnels = []

    def pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            c.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                d = c.recv(1024)
                if not d:
                    break
                head += d
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            self.tunnels.append(line)
            parts = line.split()
            if len(parts) < 2 or parts[0] != "CONNECT":
                c.close()
                continue
            host, port = parts[1].rsplit(":", 1)
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                c.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                c.close()
                continue
            u = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self.pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c), daemon=True).start()


def test_proxy(certs, want):
    proxy = ConnectProxy()
    proxy.start()
    emu = Emulator(certs)
    spool = os.path.join(TMP, "spool-proxy")
    cfg = write_config("proxy", emu, certs, spool,
                       device42={"proxy": "http://127.0.0.1:%d" % proxy.port})
    rc, out, err = run_agent(cfg)
    got = norm(emu.listeners())
    emu.stop()
    check("proxy_connect_used", any(t.startswith("CONNECT 127.0.0.1:%d " % emu.port)
                                    for t in proxy.tunnels), proxy.tunnels)
    check("proxy_delivers", rc == 0 and got == want, "rc %d err %s" % (rc, err[-300:]))


def test_password_never_printed():
    leaks = [o for o in OUTPUTS if PASSWORD in o]
    logs = []
    for root, _, files in os.walk(TMP):
        for f in files:
            p = os.path.join(root, f)
            if p.endswith(".json") or "certs" in p:
                continue        # the configs hold it on purpose
            try:
                if PASSWORD.encode() in open(p, "rb").read():
                    logs.append(p)
            except OSError:
                pass
    check("password_never_in_output_or_files", not leaks and not logs,
          "%d outputs, files %s" % (len(leaks), logs))


def guarded(fn, *args):
    """One test function; an exception in it is its failure, not the end.
    DELIVERY_ONLY="name ..." runs only those (while working on one)."""
    only = os.environ.get("DELIVERY_ONLY")
    if only and fn.__name__ not in only.split():
        return
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - reported as a failed test
        fail(fn.__name__, "%s: %s" % (type(e).__name__, e))


def write_empty_capture():
    with open(EMPTY, "wb") as f:    # a valid pcap without packets
        f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))


def main():
    write_empty_capture()
    certs = mkcerts()
    want = expected_listeners()
    if not want:
        fail("delivery_setup", "no expected listeners")
        return
    guarded(test_normal, certs, want)
    guarded(test_unknown_server_kept, certs, want)
    guarded(test_outage_restart, certs, want)
    guarded(test_outage_order, certs)
    guarded(test_auth, certs, want)
    guarded(test_tls, certs, want)
    guarded(test_faults, certs, want)
    guarded(test_retry_after, certs, want)
    guarded(test_sample_mode, certs)
    guarded(test_sample_refused_set_aside, certs)
    guarded(test_start_out_of_fds, certs)
    guarded(test_port_zero_skipped, certs)
    guarded(test_read_waits_for_delivery, certs)
    guarded(test_read_stops_when_spool_full, certs)
    guarded(test_read_growing_reports, certs)
    guarded(test_report_over_spool_bound_lost_counted, certs)
    guarded(test_listener_failing_backs_off, certs)
    guarded(test_retry_counts_once, certs)
    guarded(test_listener_refused_left_out, certs, want)
    guarded(test_unreadable_remote_ips, certs, want)
    guarded(test_coded_refusal_left_out, certs, want)
    guarded(test_two_refused_listeners, certs, want)
    guarded(test_lookup_errors_retried, certs, want)
    guarded(test_ips_reply_without_list, certs, want)
    guarded(test_error_page_too_large, certs, want)
    guarded(test_post_answer_too_large, certs, want)
    guarded(test_lookup_refused_4xx, certs)
    guarded(test_ips_reply_too_large, certs)
    guarded(test_renamed_device, certs, want)
    guarded(test_post_404_asks_again, certs, want)
    guarded(test_retry_resumes, certs)
    guarded(test_unusable_records_counted_once, certs)
    guarded(test_remote_ips_never_shrunk, certs, want)
    guarded(test_listing_paged, certs, want)
    guarded(test_reply_quirks, certs, want)
    guarded(test_long_device_name, certs)
    guarded(test_many_ipv6_clients, certs)
    guarded(test_reresolve_after_connect_timeout, certs)
    guarded(test_proxy, certs, want)
    guarded(test_password_never_printed)


# ---------------------------------------------------------------- live
# These run inside a network namespace of their own (t_delivery_live.sh):
# the agent captures on its loopback, the emulator listens there too on
# LIVE_EMU_PORT, which the agent's filter ignores.

LIVE_EMU_PORT = 18443


class LiveAgent:
    def __init__(self, cfgname):
        self.err = os.path.join(TMP, cfgname + ".err")
        self.out = os.path.join(TMP, cfgname + ".out")
        self.p = subprocess.Popen([D42PCAP, "-settings-dir", TMP, "-settings-name", cfgname],
                                  stdout=open(self.out, "w"), stderr=open(self.err, "w"))
        PROCS.append(self.p)
        wait_for(lambda: "capturing on" in open(self.err).read(), 30)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        err = open(self.err).read()
        OUTPUTS.append(err)
        return rc, err


def wait_for(cond, seconds, step=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(step)
    return False


# What live_traffic.py's connections make the appliance list, as
# emu.listeners() lines, once both loopback addresses are known devices.
LIVE_LISTENERS = {"lo4 127.0.0.1 8080 TCP 127.0.0.1", "lo4 127.0.0.1 5353 UDP 127.0.0.1",
                  "lo6 ::1 8443 TCP ::1"}


def wait_live_delivered(emu, seconds=40):
    """(True, listeners) once the appliance lists LIVE_LISTENERS, else
    (False, what it lists) after seconds."""
    got = set()

    def delivered():
        got.clear()
        got.update(l for l in emu.listeners().splitlines() if l.strip())
        return got == LIVE_LISTENERS

    return wait_for(delivered, seconds, 0.5), got


def traffic():
    subprocess.run([sys.executable, os.path.join(TOP, "tests", "live_traffic.py"), "3"],
                   check=True, timeout=60, stdout=subprocess.DEVNULL)


def live_config(name, emu, certs, spool, device42=None, capture=None, interval=1,
                common=None):
    com = {"Interval": interval}
    com.update(common or {})
    cfg = write_config(name, emu, certs, spool, device42=device42, capture=capture,
                       common=com)
    path = os.path.join(TMP, cfg)
    with open(path) as f:
        c = json.load(f)
    c["pcap"] = {"Device": "lo", "promiscuous-mode": False, "sniff-timeout": "10ms"}
    c["capture"]["ignore-ports"] = [LIVE_EMU_PORT]
    with open(path, "w") as f:
        json.dump(c, f)
    return cfg


def test_live_stall(certs):
    """The appliance accepts connections but never answers for longer than
    several intervals while traffic flows: every packet is still counted,
    and everything arrives once it answers again."""
    emu = Emulator(certs, extra=["--port", str(LIVE_EMU_PORT)])
    emu.fault("noanswer")
    spool = os.path.join(TMP, "spool-live-stall")
    cfg = live_config("live-stall", emu, certs, spool,
                      device42={"upload-mode": "sample", "timeout": 4})
    agent = LiveAgent(cfg)
    traffic()
    stalled = wait_for(lambda: len(spool_files(spool)) >= 3, 15)
    emu.fault("none")

    def totals():
        conns, udp = {}, [0, 0]
        for d in emu.state()["samples"]:
            for r in d["communications"]:
                conns[r["port"]] = conns.get(r["port"], 0) + r["connections"]
                if r["protocol"] == "udp" and r["port"] == 5353:
                    udp[0] += r["packets_to_server"]
                    udp[1] += r["packets_to_client"]
        return conns, udp

    done = wait_for(lambda: totals()[0].get(8080) == 3 and totals()[0].get(8443) == 3
                    and totals()[1] == [3, 3], 60, 0.5)
    rc, err = agent.stop()
    conns, udp = totals()
    emu.stop()
    check("live_stall_reports_spooled_meanwhile", stalled, "spool %s" % spool_files(spool))
    check("live_stall_every_packet_counted", done,
          "connections %s udp %s; err %s" % (conns, udp, err[-300:]))
    check("live_stall_clean_exit", rc == 0, "exit %d" % rc)


def test_live_unknown_then_known(certs):
    """A server IP the appliance does not know yet is kept, retried in later
    intervals, and delivered once the appliance learns the device."""
    emu = Emulator(certs, devices={}, extra=["--port", str(LIVE_EMU_PORT)])
    spool = os.path.join(TMP, "spool-live-unknown")
    cfg = live_config("live-unknown", emu, certs, spool)
    agent = LiveAgent(cfg)
    traffic()
    asked = wait_for(lambda: any(r["path"].startswith("/api/1.0/ips/")
                                 for r in emu.state()["requests"]), 20)
    time.sleep(2.5)     # a few more intervals with the server still unknown
    emu.control("/__device", {"ip": "127.0.0.1", "name": "lo4"})
    emu.control("/__device", {"ip": "::1", "name": "lo6"})
    ok_, got = wait_live_delivered(emu)
    rc, err = agent.stop()
    emu.stop()
    check("live_unknown_asked", asked, "no IP lookup seen")
    check("live_unknown_retried_then_delivered", ok_, "got %s" % sorted(got))
    check("live_unknown_clean_exit", rc == 0, "exit %d: %s" % (rc, err[-300:]))


def test_live_pending_left_out_once(certs):
    """A listener kept for a server the appliance did not know, then left out
    when it is known (its remote_ips unreadable): given up, not retried and
    counted again at every interval."""
    emu = Emulator(certs, devices={}, extra=["--port", str(LIVE_EMU_PORT),
                                             "--remote-ips-style", "objects"])
    spool = os.path.join(TMP, "spool-live-pending-out")
    cfg = live_config("live-pending-out", emu, certs, spool)
    agent = LiveAgent(cfg)
    traffic()
    asked = wait_for(lambda: any(r["path"].startswith("/api/1.0/ips/")
                                 for r in emu.state()["requests"]), 20)
    time.sleep(1.5)
    emu.control("/__device", {"ip": "127.0.0.1", "name": "lo4"})
    emu.control("/__listener", {"device_name": "lo4", "listening_ip": "127.0.0.1",
                                "port": 8080, "protocol": "TCP", "remote_ips": ["10.9.9.9"]})
    msg = "cannot read the remote IPs the appliance has for 127.0.0.1:8080"
    seen = wait_for(lambda: any(r["path"].startswith("/api/2.0/service_listener_ports/") and
                                "port=8080" in (r.get("query") or "")
                                for r in emu.state()["requests"]), 20)
    time.sleep(4)       # four more intervals, each with a round of the kept ones
    rc, err = agent.stop()
    emu.stop()
    check("live_pending_left_out_once",
          asked and seen and rc == 0 and err.count(msg) == 1,
          "asked %s, seen %s, exit %d, %d warnings: %s" % (asked, seen, rc, err.count(msg),
                                                           err[-400:]))


def udp_burst(n, small_port=1000, big_port=9999):
    """Right after a second begins (an interval, at Interval 1): one client
    of 127.0.0.1:small_port, then n clients (127.0.0.10 on) of
    127.0.0.1:big_port, each answered. One report then holds a small first
    listener and, past the spool reader's first 8 KiB, a large one."""
    import socket
    time.sleep(1.05 - time.time() % 1)
    srv = {}
    for port in (small_port, big_port):
        srv[port] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv[port].bind(("127.0.0.1", port))
    for i in range(n + 1):
        port = small_port if i == 0 else big_port
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.%d" % (10 + i), 0))
        c.settimeout(2)
        c.sendto(b"q", ("127.0.0.1", port))
        _, addr = srv[port].recvfrom(64)
        srv[port].sendto(b"a", addr)
        c.recv(64)
        c.close()
    for x in srv.values():
        x.close()


def test_live_memory_queue_drop(certs):
    """No spool directory (reports in memory) and one report kept: while
    the appliance is slow to answer about the report's first listener, the
    next report pushes out the one being delivered, whose later listeners
    are still to be read. That is a drop the spool counts, not a corrupt
    report: no "corrupt" message, no failure and backoff of its own, and
    what comes after is delivered. (Live only: reading a file waits for
    delivery instead.)"""
    emu = Emulator(certs, devices={"127.0.0.1": "lo4", "::1": "lo6"},
                   extra=["--port", str(LIVE_EMU_PORT)])
    emu.fault("slow", 1, seconds=2)    # under the 3 s timeout: no failure
    cfg = live_config("live-memdrop", emu, certs, "/dev/null/spool",
                      common={"spool-max-files": 1})
    agent = LiveAgent(cfg)
    udp_burst(60)
    msg = "was dropped from the spool while being delivered"
    dropped = wait_for(lambda: msg in open(agent.err).read(), 20)
    traffic()
    later = wait_for(lambda: any(" 8080 TCP " in l for l in emu.listeners().splitlines()), 30)
    rc, err = agent.stop()
    emu.stop()
    check("live_memory_queue_drop_not_corrupt",
          dropped and later and rc == 0 and "memory only" in err and
          "corrupt" not in err and "damaged" not in err and "next attempt" not in err,
          "dropped in delivery %s, delivered later %s, rc %d: %s" % (dropped, later, rc,
                                                                     err[-1500:]))


def test_live_sigterm_spools(certs):
    """SIGTERM in the middle of an interval, appliance down: the partial
    interval is spooled and the agent exits 0; the next start delivers it."""
    emu = Emulator(certs, devices={"127.0.0.1": "lo4", "::1": "lo6"},
                   extra=["--port", str(LIVE_EMU_PORT)])
    emu.fault("503")
    spool = os.path.join(TMP, "spool-live-term")
    # SIGTERM comes long before the interval's end
    cfg = live_config("live-term", emu, certs, spool, interval=3600)
    agent = LiveAgent(cfg)
    traffic()
    rc, err = agent.stop()
    files = spool_files(spool)
    emu.fault("none")
    rc2, _, err2 = run_agent(cfg, capture=EMPTY)
    got = set(l for l in emu.listeners().splitlines() if l.strip())
    emu.stop()
    check("live_sigterm_exit_0", rc == 0, "exit %d: %s" % (rc, err[-300:]))
    check("live_sigterm_partial_interval_spooled", len(files) == 1, files)
    check("live_sigterm_spool_delivered_after_restart", rc2 == 0 and got == LIVE_LISTENERS,
          "rc %d got %s: %s" % (rc2, sorted(got), err2[-300:]))


def test_live_spool_removed(certs):
    """The spool directory removed while the agent runs and the appliance is
    down: the next report makes it again, and what was seen afterwards is
    delivered once the appliance is back, without a restart."""
    emu = Emulator(certs, devices={"127.0.0.1": "lo4", "::1": "lo6"},
                   extra=["--port", str(LIVE_EMU_PORT)])
    emu.fault("503")
    spool = os.path.join(TMP, "spool-live-removed")
    cfg = live_config("live-removed", emu, certs, spool)
    agent = LiveAgent(cfg)
    traffic()
    spooled = wait_for(lambda: len(spool_files(spool)) >= 2, 15)
    # The agent may write a report into it meanwhile (rmtree then finds it
    # not empty): try again, as rm -r would have to.
    removed = wait_for(lambda: shutil.rmtree(spool) or True, 10, step=0.05)
    traffic()   # reports with records stay queued while the appliance is down
    remade = wait_for(lambda: len(spool_files(spool)) >= 1, 15)
    emu.fault("none")
    ok_, got = wait_live_delivered(emu)
    rc, err = agent.stop()
    emu.stop()
    check("live_spool_removed_made_again", spooled and removed and remade and
          "removed while in use; made it again" in err and "moving it aside" not in err,
          "spooled %s removed %s remade %s: %s" % (spooled, removed, remade, err[-300:]))
    check("live_spool_removed_later_delivered", ok_, "got %s: %s" % (sorted(got), err[-300:]))
    check("live_spool_removed_clean_exit", rc == 0, "exit %d" % rc)


def lowest_free_fd(pid):
    used = {int(f) for f in os.listdir("/proc/%d/fd" % pid)}
    return next(n for n in range(len(used) + 1) if n not in used)


def test_live_out_of_fds(certs):
    """Out of file descriptors when a spooled report is due: the report is
    kept, not set aside as unreadable (which, out of descriptors, deleted
    it), and delivered once descriptors are free again. The agent's limit
    is lowered while it waits to retry, to its lowest free descriptor: the
    report's file is then the first thing it cannot open."""
    emu = Emulator(certs, extra=["--port", str(LIVE_EMU_PORT)])
    spool = os.path.join(TMP, "spool-live-nofds")
    emu.fault("503")
    run_agent(write_config("live-nofds-r", emu, certs, spool))
    files = spool_files(spool)
    want = expected_listeners()
    emu.fault("close-early")
    # no report of its own meanwhile
    cfg = live_config("live-nofds", emu, certs, spool, interval=3600)
    agent = LiveAgent(cfg)
    failing = wait_for(lambda: open(agent.err).read().count("next attempt in") >= 2, 20)
    pid = str(agent.p.pid)
    soft = subprocess.run(["prlimit", "--pid", pid, "--nofile", "--noheadings",
                           "--output=SOFT"], check=True, capture_output=True,
                          text=True).stdout.strip()
    limit = lowest_free_fd(agent.p.pid)
    subprocess.run(["prlimit", "--pid", pid, "--nofile=%d:" % limit], check=True)
    emu.fault("none")
    msg = re.compile("cannot read spooled report 1 now: (%s)" % EMFILE_TEXT)
    refused = wait_for(lambda: msg.search(open(agent.err).read()), 20)
    subprocess.run(["prlimit", "--pid", pid, "--nofile=%s:" % soft], check=True)
    got = set()

    def delivered():
        got.clear()
        got.update(norm(emu.listeners()).splitlines())
        return got == set(want.splitlines())

    ok_ = wait_for(delivered, 30, 0.5)
    cdir = os.path.join(spool, "corrupt")
    aside = os.listdir(cdir) if os.path.isdir(cdir) else []
    rc, err = agent.stop()
    emu.stop()
    check("live_nofds_report_kept",
          len(files) == 3 and failing and refused and aside == [],
          "spooled %s, failing %s, limit %d, EMFILE seen %s, set aside %s: %s" %
          (files, failing, limit, refused, aside, err[-400:]))
    check("live_nofds_delivered_later", ok_ and rc == 0,
          "rc %d got %s want %s" % (rc, sorted(got), want.splitlines()))


def main_live():
    write_empty_capture()
    certs = mkcerts()
    guarded(test_live_sigterm_spools, certs)
    guarded(test_live_stall, certs)
    guarded(test_live_unknown_then_known, certs)
    guarded(test_live_pending_left_out_once, certs)
    guarded(test_live_out_of_fds, certs)
    guarded(test_live_memory_queue_drop, certs)
    guarded(test_live_spool_removed, certs)
    guarded(test_password_never_printed)


if __name__ == "__main__":
    try:
        main_live() if LIVE else main()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
