#!/usr/bin/env python3
"""Device42 API emulator for the d42pcap tests (Python 3 standard library only).

Serves the part of the Device42 REST API that d42pcap uses, over HTTPS (or
plain HTTP with --http) on a loopback address, with in-memory state, and
injects faults on request. Start it in the background; it prints "port N"
then "ready" on stdout once listening, and exits 0 on SIGTERM or SIGINT.

  python3 tests/d42_emulator.py --port-file F --cert server.crt --key server.key \\
      --user admin --password secret --device 10.0.0.1=web1 &

Options
  --host ADDR          listen address (default 127.0.0.1; "::1" works too)
  --port N             port, 0 = pick a free one (default 0)
  --port-file FILE     write the port number there (atomically) once listening
  --cert FILE --key FILE
                       server certificate chain and key (PEM) for HTTPS.
                       TLS faults are chosen here: a certificate for another
                       name (wrongname.crt) or an untrusted one (selfsigned.crt),
                       see tests/mkcerts.sh
  --http               plain HTTP instead of HTTPS (no --cert/--key needed)
  --tls-version V      "1.2", "1.3" or "any" (default any: TLS 1.2 and 1.3)
  --user U --password P
                       Basic credentials the API requires (default admin /
                       adm!nd42). The password is never printed or logged.
  --devices FILE       JSON object {"ip": "device name", ...} of known devices
  --device IP=NAME     one known device (repeatable); ids are given in order
  --sample-path PATH   where "sample" mode posts JSON (default /api/d42pcap/sample)
  --slow-seconds S     delay of the "slow" fault (default 3)
  --noanswer-max S     longest a "noanswer"/"nohandshake" fault holds a
                       connection (default 120)
  --idle-timeout S     idle keep-alive connections are closed after S (default 30)
  --max-conns N        concurrent connections, more are closed at once (default 64)
  --max-body BYTES     largest request body (default 64 MiB), else 413
  --page-limit N       default and largest "limit" of list endpoints (default 1000)
  --remote-ips-style S how listings show remote_ips: "list" of strings (default),
                       "csv" (one comma-separated string) or "objects"
                       ([{"ip": ...}]); the real format is not documented
  --post-merges        a POST adds its remote_ips to the stored ones instead of
                       replacing them (undocumented either way on the appliance)
  --huge-body-bytes N  size of the "huge-body" fault's body (default 32 MiB)
  --quiet              no per-request lines on stderr

API (Basic auth required; 401 with a JSON body otherwise)
  GET  /api/1.0/ips/?ip=A           {"ips": [{"id","ip","label","subnet","device",
                                    "device_id"}], "total_count": n}; no ip = all
  GET  /api/2.0/service_listener_ports/
       filters port, device_name, listener_device_name (same as device_name),
       discovered_service, mapped_service, service_instance_id (never matches:
       no service instances here); unknown parameters are ignored, as undocumented
       filters may be; limit/offset. Reply {"total_count","offset","limit",
       "service_ports": [{"id","device_name","listening_ip","port","protocol",
       "discovered_service","mapped_service","remote_ips","remote_ips_ids",
       "appcomp_ids"}]}
  POST /api/2.0/service_listener_ports/   application/x-www-form-urlencoded only
       (JSON is refused with 400, as the appliance reportedly does). Required:
       port, device_name or device_id, listening_ip or remote_ips; optional
       protocol (default TCP, matched case-insensitively, stored upper-case),
       discovered_service, discovered_process, mapped_service, remote_port_time.
       The record is keyed by (device, listening_ip, port, protocol); remote_ips
       (comma-separated) replaces the stored list, or is merged with
       --post-merges; absent, the list is kept. Unknown device: 400.
       Reply 200 {"msg": ["Service listener port added/updated", id,
       "device:port", true, created], "code": 0}
  POST <sample-path>                 application/json, any JSON document, stored;
       reply {"msg": "sample stored", "id": n, "code": 0}
  PUT  /api/2.0/service_listener_ports/ID/   same fields as POST, by id
  Bodies need Content-Length (411 otherwise; chunked request bodies: 501).

Control (no authentication, JSON; not in the request log)
  GET  /__state      {"listeners", "samples", "samples_dropped", "requests",
                     "requests_total", "tls_errors", "fault", "devices"}.
                     Listener remote_ips are sorted (IPv4 before IPv6).
                     Each request: n, conn (connection number: keep-alive
                     reuse shows as one conn), conn_req, method, path, query,
                     user (Basic user name, "" if none), auth ("ok", "none",
                     "bad"), headers (host, user-agent, content-type,
                     content-length, transfer-encoding, connection, accept;
                     authorization only as "Basic" or "other"), form (POSTed
                     fields), status (null if none was sent), fault.
  GET  /__listeners  text/plain, one sorted line per listener:
                     "DEVICE LISTENING_IP PORT PROTOCOL IP1,IP2,..." ("-" if none)
  POST /__fault      {"mode": M, "count": N, "seconds": S, "path": P, "method": X,
                      "body": B, "retry_after": R}
                     count: requests it applies to, -1 (default) until cleared;
                     seconds: for "slow"; path (prefix), method and body (a
                     substring of the request body) restrict it.
                     {"mode": "none"} clears it. Control requests are exempt.
  POST /__device     {"ip": A, "name": N}: one more known device
  POST /__rename     {"from": OLD, "to": NEW, "after_posts": N}: device OLD is
                     called NEW from now on (its IPs and listener records
                     too; OLD no longer exists), or once N more listener
                     POSTs for OLD have been accepted
  POST /__listener   {"device_name", "listening_ip", "port", "protocol",
                     "remote_ips": [...]}: seed an existing record
  POST /__reset      forget listeners, samples, requests, TLS errors, fault

Faults (modes)
  400            400 Bad Request, JSON body (the appliance refuses the request)
  413            413 Content Too Large, JSON body (a body over its limit)
  401            401 Unauthorized, JSON body, WWW-Authenticate
  403            403 Forbidden, JSON body
  500            500 with {"msg": "License expired"} (the licensing error)
  500-license    500 with {"msg": "License is not valid for this appliance"}
  500-plain      500 with an HTML body
  503            503 Service Unavailable, Retry-After: 1 (or "retry_after")
  slow           answer normally after --slow-seconds (or "seconds")
  noanswer       read the request, never answer; hold the connection until the
                 client closes it or --noanswer-max passes
  nohandshake    accept the TCP connection, never start TLS (same bound);
                 counted per connection, not per request, and applied to the
                 next connection whatever it carries (a control request too:
                 the path is not known before the handshake)
  close-early    read the request, close without answering
  close-mid      status line, headers (full Content-Length), half the body, close
  malformed-json 200 with a truncated JSON body
  chunked        normal answer, Transfer-Encoding: chunked in 7-byte chunks
  chunked-ext    same, with a chunk extension and a trailer field
  code1          200 with {"code": 1, "msg": "error"}
  redirect       302 to /elsewhere/ (a client must not follow it)
  both-cl-te     200 with both Content-Length and Transfer-Encoding: chunked
  huge-headers   200 with 1000 filler header fields (about 100 KB of headers)
  huge-body      200 with a --huge-body-bytes JSON body
  huge-error     503 with Retry-After: 1 (or "retry_after") and a
                 --huge-body-bytes body (an overloaded front end's page)
  huge-accepted  the request is carried out as usual (a POST stored), but the
                 200 answer has a --huge-body-bytes body
  no-list        200 with {"total_count": 0}: neither "ips" nor
                 "service_ports" nor "code"
  bad-status     a malformed status line, then close
Faulted requests do not change the state, except "slow", "huge-accepted"
and the "chunked" ones, which are otherwise normal requests.
"""

import argparse
import base64
import http.server
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

LISTENERS_PATH = "/api/2.0/service_listener_ports/"
IPS_PATH = "/api/1.0/ips/"
MAX_LOG = 10000           # request log entries kept (oldest dropped)
MAX_SAMPLES = 1000        # sample documents kept
MAX_TLS_ERRORS = 1000
MAX_LISTENERS = 100000
MAX_FORM_FIELDS = 1000
MAX_REMOTE_IPS = 100000   # per record
HANDSHAKE_TIMEOUT = 10.0  # seconds a client gets to complete TLS
CHUNK = 7                 # bytes per chunk of the "chunked" faults
FILLER_HEADERS = 1000
LISTING_PADDING = 5 << 20 # bytes of the listing-padding quirk's extra field
# --quirk: reply shapes the API documents loosely or an appliance may use.
# POST: "code" as "0" or 0.0, no "code", 204 without a body. Listing:
# total_count as "2" or 2.0, protocol as 6/17 (as stored), "service_ports"
# under another name, the port filter ignored, 5 MiB of another field.
# exponents: total_count "20e-1" (2) and code "0.0E+5" (0). device-upper:
# the listing's device_name in capitals (the name is matched in any case).
QUIRKS = ("code-string", "code-float", "no-code", "post-empty", "total-string",
          "total-float", "protocol-number", "no-service-ports", "ignore-port-filter",
          "listing-padding", "exponents", "device-upper")
FAULT_MODES = {
    "none", "400", "404", "413", "401", "403", "500", "500-license", "500-plain", "503", "slow",
    "noanswer", "nohandshake", "close-early", "close-mid", "malformed-json",
    "chunked", "chunked-ext", "code1", "redirect", "both-cl-te",
    "huge-headers", "huge-body", "huge-error", "huge-accepted", "no-list", "bad-status",
}
PASSTHROUGH = {"slow", "chunked", "chunked-ext", "huge-accepted"}   # carried out
LOGGED_HEADERS = ("host", "user-agent", "content-type", "content-length",
                  "transfer-encoding", "connection", "accept")


def ip_sort_key(s):
    a = ipaddress.ip_address(s)
    return (a.version, int(a))


class State:
    """Everything the emulator knows; all access under self.lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.devices = {}        # ip -> name
        self.device_ids = {}     # name -> id
        self.reset()

    def reset(self):
        self.listeners = {}      # (device, listening_ip, port, proto) -> rec
        self.next_listener_id = 1
        self.ip_ids = {}         # remote ip -> id for remote_ips_ids
        self.samples = []
        self.samples_dropped = 0
        self.requests = []
        self.requests_total = 0
        self.tls_errors = []
        self.fault = {"mode": "none", "count": 0}
        self.rename = None       # {"from", "to", "after_posts"}
        self.conn_seq = getattr(self, "conn_seq", 0)

    def add_device(self, ip, name):
        ip = str(ipaddress.ip_address(ip))
        if not name or len(name) > 255:
            raise ValueError("bad device name")
        self.devices[ip] = name
        if name not in self.device_ids:
            self.device_ids[name] = len(self.device_ids) + 1

    def take_fault(self, method, path, per_connection, body=b""):
        """The active fault mode if it applies to this request, else None."""
        f = self.fault
        mode = f["mode"]
        if mode == "none" or f["count"] == 0:
            return None
        if (mode == "nohandshake") != per_connection:
            return None
        if not per_connection:
            if f.get("path") and not path.startswith(f["path"]):
                return None
            if f.get("method") and f["method"] != method:
                return None
            if f.get("body") and f["body"].encode() not in body:
                return None
        if f["count"] > 0:
            f["count"] -= 1
        return mode

    def ip_id(self, ip):
        if ip not in self.ip_ids:
            self.ip_ids[ip] = len(self.ip_ids) + 1
        return self.ip_ids[ip]

    def rename_device(self, old, new):
        if old not in self.device_ids or not new or len(new) > 255 or new in self.device_ids:
            raise ValueError("cannot rename %r to %r" % (old[:64], new[:64]))
        self.device_ids[new] = self.device_ids.pop(old)
        for ip, name in self.devices.items():
            if name == old:
                self.devices[ip] = new
        for key in [k for k in self.listeners if k[0] == old]:
            rec = self.listeners.pop(key)
            rec["device_name"] = new
            self.listeners[(new,) + key[1:]] = rec

    def posted(self, device):
        """A listener POST for device was accepted: a rename may be due."""
        r = self.rename
        if r and r["from"] == device:
            r["after_posts"] -= 1
            if r["after_posts"] <= 0:
                self.rename = None
                self.rename_device(r["from"], r["to"])

    def upsert(self, device, lip, port, proto, remote, extra):
        """Create or update a listener; returns (record, created)."""
        key = (device, lip, port, proto)
        rec = self.listeners.get(key)
        created = rec is None
        if created:
            if len(self.listeners) >= MAX_LISTENERS:
                raise OverflowError("too many listener records")
            rec = {"id": self.next_listener_id, "device_name": device,
                   "listening_ip": lip, "port": port, "protocol": proto,
                   "discovered_service": "", "mapped_service": "",
                   "remote_ips": [], "appcomp_ids": []}
            self.next_listener_id += 1
            self.listeners[key] = rec
        if remote is not None:
            ips = set(remote)
            if self.args.post_merges:
                ips |= set(rec["remote_ips"])
            if len(ips) > MAX_REMOTE_IPS:
                raise OverflowError("too many remote IPs")
            rec["remote_ips"] = sorted(ips, key=ip_sort_key)
        for k, v in extra.items():
            rec[k] = v
        return rec, created

    def render(self, rec):
        out = dict(rec)
        ips = rec["remote_ips"]
        style = self.args.remote_ips_style
        if style == "csv":
            out["remote_ips"] = ",".join(ips)
        elif style == "objects":
            out["remote_ips"] = [{"ip": ip} for ip in ips]
        else:
            out["remote_ips"] = list(ips)
        out["remote_ips_ids"] = [self.ip_id(ip) for ip in ips]
        return out


class BadRequest(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status
        self.msg = msg


def parse_port(s):
    if not s or not s.isascii() or not s.isdigit() or len(s) > 5:
        raise BadRequest(400, "port: a number 1-65535 is required")
    v = int(s)
    if not 1 <= v <= 65535:
        raise BadRequest(400, "port: a number 1-65535 is required")
    return v


def parse_ip(s, what):
    try:
        return str(ipaddress.ip_address(s.strip()))
    except ValueError:
        raise BadRequest(400, "%s: %r is not an IP address" % (what, s[:64]))


def parse_int(s, what, lo, hi):
    if not s.isascii() or not s.isdigit() or len(s) > 9 or not lo <= int(s) <= hi:
        raise BadRequest(400, "%s: a number %d-%d is required" % (what, lo, hi))
    return int(s)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "d42-emulator/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        self.timeout = self.server.args.idle_timeout
        super().setup()
        self.state = self.server.state
        with self.state.lock:
            self.state.conn_seq += 1
            self.conn_id = self.state.conn_seq
        self.conn_req = 0

    def log_message(self, fmt, *a):
        if not self.server.args.quiet:
            sys.stderr.write("d42-emulator: %s %s\n" % (self.address_string(), fmt % a))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # ---- plumbing ----

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest(501, "chunked request bodies are not supported")
        cl = self.headers.get("Content-Length")
        if cl is None:
            if self.command in ("POST", "PUT"):
                raise BadRequest(411, "Content-Length required")
            return b""
        cl = cl.strip()
        if not cl.isascii() or not cl.isdigit() or len(cl) > 12:
            raise BadRequest(400, "bad Content-Length")
        n = int(cl)
        if n > self.server.args.max_body:
            raise BadRequest(413, "request body too large")
        body = self.rfile.read(n)
        if len(body) != n:
            raise BadRequest(400, "short body")
        return body

    def send_body(self, status, body, ctype="application/json", headers=(), mode=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        if mode in ("chunked", "chunked-ext", "both-cl-te"):
            if mode == "both-cl-te":
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Transfer-Encoding", "chunked")
            if mode == "chunked-ext":
                self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for i in range(0, len(body), CHUNK):
                part = body[i:i + CHUNK]
                ext = ";ext=1" if mode == "chunked-ext" and i == 0 else ""
                self.wfile.write(b"%x%s\r\n%s\r\n" % (len(part), ext.encode(), part))
                self.wfile.flush()
            trailer = b"X-Checksum: none\r\n" if mode == "chunked-ext" else b""
            self.wfile.write(b"0\r\n" + trailer + b"\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, obj, headers=(), mode=None):
        self.send_body(status, json.dumps(obj).encode(), "application/json", headers, mode)

    def hang(self):
        """Hold the connection, answering nothing, until the peer closes."""
        deadline = time.monotonic() + self.server.args.noanswer_max
        hold(self.connection, deadline)
        self.close_connection = True

    def hard_close(self):
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    # ---- requests ----

    def dispatch(self, method):
        self.conn_req += 1
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_json(e.status, {"msg": e.msg, "code": 1})
            return
        if path.startswith("/__"):
            self.control(method, path, body)
            return
        st = self.state
        user, auth = self.credentials()
        entry = {"n": 0, "time": time.time(), "conn": self.conn_id,
                 "conn_req": self.conn_req, "method": method, "path": path,
                 "query": url.query, "user": user, "auth": auth,
                 "headers": self.logged_headers(), "form": None,
                 "status": None, "fault": None}
        with st.lock:
            st.requests_total += 1
            entry["n"] = st.requests_total
            st.requests.append(entry)
            if len(st.requests) > MAX_LOG:
                del st.requests[0]
            fault = st.take_fault(method, path, False, body)
            seconds = st.fault.get("seconds")
            self.retry_after = st.fault.get("retry_after", "1")
        entry["fault"] = fault
        if fault and fault not in PASSTHROUGH:
            self.inject(fault, entry)
            return
        if fault == "slow":
            time.sleep(self.server.args.slow_seconds if seconds is None else seconds)
        if auth != "ok":
            entry["status"] = 401
            self.send_json(401, {"msg": "Authentication credentials were not provided "
                                 "or are invalid.", "code": 1},
                           [("WWW-Authenticate", 'Basic realm="api"')], fault)
            return
        try:
            status, obj = self.route(method, path, url.query, body, entry)
        except BadRequest as e:
            status, obj = e.status, {"msg": e.msg, "code": 1}
        entry["status"] = status
        if fault == "huge-accepted" and 200 <= status < 300:
            self.huge_body()
            return
        if obj is None:         # quirk post-empty: a 204 without a body
            entry["status"] = 204
            self.send_body(204, b"", "application/json", (), fault)
            return
        self.send_json(status, obj, (), fault)

    def credentials(self):
        h = self.headers.get("Authorization")
        if not h:
            return "", "none"
        parts = h.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "basic":
            return "", "bad"
        try:
            raw = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "", "bad"
        user, sep, password = raw.partition(":")
        a = self.server.args
        ok = sep and user == a.user and password == a.password
        return user[:128], "ok" if ok else "bad"

    def logged_headers(self):
        out = {}
        for k in LOGGED_HEADERS:
            v = self.headers.get(k)
            if v is not None:
                out[k] = v[:256]
        auth = self.headers.get("Authorization")
        if auth is not None:
            out["authorization"] = "Basic" if auth.lower().startswith("basic ") else "other"
        return out

    def inject(self, mode, entry):
        status = {"400": 400, "413": 413, "401": 401, "403": 403, "500": 500, "500-license": 500,
                  "500-plain": 500, "503": 503, "code1": 200, "redirect": 302,
                  "malformed-json": 200, "close-mid": 200, "both-cl-te": 200,
                  "huge-headers": 200, "huge-body": 200, "huge-error": 503,
                  "no-list": 200}.get(mode)
        entry["status"] = status
        if mode == "400":
            self.send_json(400, {"msg": "Invalid value for remote_ips.", "code": 1})
        elif mode == "404":
            self.send_json(404, {"msg": "Device not found.", "code": 1})
        elif mode == "413":
            self.send_json(413, {"msg": "Request body too large.", "code": 1})
        elif mode == "401":
            self.send_json(401, {"msg": "Invalid username/password.", "code": 1},
                           [("WWW-Authenticate", 'Basic realm="api"')])
        elif mode == "403":
            self.send_json(403, {"msg": "You do not have permission to perform "
                                 "this action.", "code": 1})
        elif mode == "500":
            self.send_json(500, {"msg": "License expired", "code": 1})
        elif mode == "500-license":
            self.send_json(500, {"msg": "License is not valid for this appliance",
                                 "code": 1})
        elif mode == "500-plain":
            self.send_body(500, b"<html><body><h1>Server Error (500)</h1></body></html>",
                           "text/html")
        elif mode == "503":
            self.send_json(503, {"msg": "Service Unavailable", "code": 1},
                           [("Retry-After", self.retry_after)])
        elif mode == "code1":
            self.send_json(200, {"code": 1, "msg": "error"})
        elif mode == "redirect":
            self.send_json(302, {"msg": "moved"}, [("Location", "/elsewhere/")])
        elif mode == "malformed-json":
            self.send_body(200, b'{"msg": ["Service listener port added/updated", 1')
        elif mode == "both-cl-te":
            self.send_json(200, {"msg": ["ok"], "code": 0}, (), "both-cl-te")
        elif mode == "huge-headers":
            filler = [("X-Filler-%d" % i, "x" * 90) for i in range(FILLER_HEADERS)]
            self.send_json(200, {"msg": ["ok"], "code": 0}, filler)
        elif mode == "huge-body":
            self.huge_body()
        elif mode == "huge-error":
            self.huge_body(503, [("Retry-After", self.retry_after)])
        elif mode == "no-list":
            self.send_json(200, {"total_count": 0})
        elif mode == "close-mid":
            body = json.dumps({"msg": ["Service listener port added/updated", 1,
                                       "x", True, False], "code": 0}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.hard_close()
        elif mode == "close-early":
            self.hard_close()
        elif mode == "bad-status":
            self.wfile.write(b"HTTP/1.1 2x0 Maybe\r\nContent-Length: 2\r\n\r\n{}")
            self.hard_close()
        elif mode == "noanswer":
            self.hang()

    def huge_body(self, status=200, headers=()):
        n = self.server.args.huge_body_bytes
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        piece = b" " * 65536
        left = n - 2
        try:
            self.wfile.write(b"[")
            while left > 0:
                k = min(left, len(piece))
                self.wfile.write(piece[:k])
                left -= k
            self.wfile.write(b"]")
        except OSError:
            pass
        self.close_connection = True

    def route(self, method, path, query, body, entry):
        st = self.state
        q = urllib.parse.parse_qs(query, keep_blank_values=True,
                                  max_num_fields=MAX_FORM_FIELDS)
        if path == IPS_PATH or path == IPS_PATH.rstrip("/"):
            if method != "GET":
                raise BadRequest(405, "method not allowed")
            return 200, self.get_ips(q)
        if path == LISTENERS_PATH or path == LISTENERS_PATH.rstrip("/"):
            if method == "GET":
                return 200, self.get_listeners(q)
            if method == "POST":
                return 200, self.post_listener(body, entry, None)
            raise BadRequest(405, "method not allowed")
        if path.startswith(LISTENERS_PATH) and method == "PUT":
            rid = path[len(LISTENERS_PATH):].strip("/")
            return 200, self.post_listener(body, entry, parse_int(rid, "id", 1, 10**9))
        if path == self.server.args.sample_path:
            if method != "POST":
                raise BadRequest(405, "method not allowed")
            return 200, self.post_sample(body)
        raise BadRequest(404, "not found: %s" % path[:200])

    def page(self, q, items):
        a = self.server.args
        limit = parse_int(q.get("limit", [str(a.page_limit)])[-1], "limit", 0, a.page_limit)
        offset = parse_int(q.get("offset", ["0"])[-1], "offset", 0, 10**9)
        return limit, offset, items[offset:offset + limit]

    def get_ips(self, q):
        st = self.state
        with st.lock:
            if "ip" in q:
                ip = q["ip"][-1]
                try:
                    ip = str(ipaddress.ip_address(ip))
                except ValueError:
                    pass     # no such IP: an empty answer, as a filter would give
                ips = [ip] if ip in st.devices else []
            else:
                ips = sorted(st.devices, key=ip_sort_key)
            rows = [{"id": i + 1, "ip": ip, "label": "", "subnet": "",
                     "device": st.devices[ip],
                     "device_id": st.device_ids[st.devices[ip]]}
                    for i, ip in enumerate(ips)]
        limit, offset, part = self.page(q, rows)
        return {"ips": part, "total_count": len(rows), "limit": limit, "offset": offset}

    def get_listeners(self, q):
        st = self.state
        quirks = self.server.args.quirk
        filters = {}
        if "port" in q and "ignore-port-filter" not in quirks:
            filters["port"] = parse_port(q["port"][-1])
        for k in ("device_name", "listener_device_name"):
            if k in q:
                filters["device_name"] = q[k][-1]
        for k in ("discovered_service", "mapped_service"):
            if k in q:
                filters[k] = q[k][-1]
        with st.lock:
            recs = sorted(st.listeners.values(), key=lambda r: r["id"])
            if "service_instance_id" in q:
                recs = []
            recs = [r for r in recs if all(r[k] == v for k, v in filters.items())]
            limit, offset, part = self.page(q, recs)
            out = [st.render(r) for r in part]
        reply = {"total_count": len(recs), "offset": offset, "limit": limit,
                 "service_ports": out}
        if "total-string" in quirks:
            reply["total_count"] = str(len(recs))
        if "total-float" in quirks:
            reply["total_count"] = float(len(recs))
        if "exponents" in quirks:
            reply["total_count"] = "%d0e-1" % len(recs)     # "20e-1": 2
        if "protocol-number" in quirks:
            for r in out:
                r["protocol"] = 17 if r["protocol"] == "UDP" else 6
        if "device-upper" in quirks:
            for r in out:
                r["device_name"] = r["device_name"].upper()
        if "no-service-ports" in quirks:
            reply["listener_ports"] = reply.pop("service_ports")
        if "listing-padding" in quirks:
            reply["note"] = "x" * LISTING_PADDING
        return reply

    def post_listener(self, body, entry, rid):
        st = self.state
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise BadRequest(400, "Content-Type %s not accepted: send "
                             "application/x-www-form-urlencoded" % ctype[:64])
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                         max_num_fields=MAX_FORM_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "malformed form body")
        f = {k: v[-1] for k, v in form.items()}
        entry["form"] = f
        with st.lock:
            if rid is not None:
                old = [r for r in st.listeners.values() if r["id"] == rid]
                if not old:
                    raise BadRequest(404, "no listener %d" % rid)
                old = old[0]
                for k in ("port", "device_name", "listening_ip", "protocol"):
                    f.setdefault(k, str(old[k]))
            if "port" not in f:
                raise BadRequest(400, "port is required")
            port = parse_port(f["port"])
            if "device_name" in f:
                device = f["device_name"]
                if device not in st.device_ids:
                    raise BadRequest(400, "device %r does not exist" % device[:64])
            elif "device_id" in f:
                did = parse_int(f["device_id"], "device_id", 1, 10**9)
                names = [n for n, i in st.device_ids.items() if i == did]
                if not names:
                    raise BadRequest(400, "device id %d does not exist" % did)
                device = names[0]
            else:
                raise BadRequest(400, "device_name or device_id is required")
            if "listening_ip" not in f and "remote_ips" not in f:
                raise BadRequest(400, "listening_ip or remote_ips is required")
            lip = parse_ip(f["listening_ip"], "listening_ip") if "listening_ip" in f else ""
            proto = f.get("protocol", "TCP").strip().upper() or "TCP"
            if not proto.isalnum() or len(proto) > 16:
                raise BadRequest(400, "protocol: invalid")
            remote = None
            if "remote_ips" in f:
                remote = [parse_ip(x, "remote_ips") for x in f["remote_ips"].split(",")
                          if x.strip()]
            extra = {k: f[k][:255] for k in ("discovered_service", "mapped_service")
                     if k in f}
            try:
                rec, created = st.upsert(device, lip, port, proto, remote, extra)
            except OverflowError as e:
                raise BadRequest(400, str(e))
            st.posted(device)
            reply = {"msg": ["Service listener port added/updated", rec["id"],
                             "%s:%d" % (device, port), True, created], "code": 0}
        quirks = self.server.args.quirk
        if "code-string" in quirks:
            reply["code"] = "0"
        if "code-float" in quirks:
            reply["code"] = 0.0
        if "exponents" in quirks:
            reply["code"] = "0.0E+5"
        if "no-code" in quirks:
            del reply["code"]
        if "post-empty" in quirks:
            return None
        return reply

    def post_sample(self, body):
        st = self.state
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise BadRequest(415, "application/json required")
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "body is not valid JSON")
        with st.lock:
            if len(st.samples) >= MAX_SAMPLES:
                st.samples_dropped += 1
                del st.samples[0]
            st.samples.append(doc)
            n = len(st.samples) + st.samples_dropped
        return {"msg": "sample stored", "id": n, "code": 0}

    # ---- control ----

    def control(self, method, path, body):
        st = self.state
        try:
            arg = json.loads(body.decode("utf-8")) if body else {}
            if not isinstance(arg, dict):
                raise ValueError("a JSON object is required")
            if method == "GET" and path == "/__state":
                with st.lock:
                    out = {"listeners": [st.render(r) for r in
                                         sorted(st.listeners.values(), key=lambda r: r["id"])],
                           "samples": st.samples, "samples_dropped": st.samples_dropped,
                           "requests": st.requests, "requests_total": st.requests_total,
                           "tls_errors": st.tls_errors, "fault": st.fault,
                           "devices": st.devices}
                    data = json.dumps(out).encode()
                self.send_body(200, data)
                return
            if method == "GET" and path == "/__listeners":
                with st.lock:
                    lines = sorted("%s %s %d %s %s" % (r["device_name"], r["listening_ip"] or "-",
                                                       r["port"], r["protocol"],
                                                       ",".join(r["remote_ips"]) or "-")
                                   for r in st.listeners.values())
                self.send_body(200, "".join(l + "\n" for l in lines).encode(), "text/plain")
                return
            if method != "POST":
                raise ValueError("unknown control request")
            if path == "/__fault":
                mode = str(arg.get("mode", ""))
                if mode not in FAULT_MODES:
                    raise ValueError("unknown fault mode %r" % mode[:32])
                count = int(arg.get("count", -1))
                f = {"mode": mode, "count": 0 if mode == "none" else count}
                if "seconds" in arg:
                    f["seconds"] = float(arg["seconds"])
                for k in ("path", "method", "body", "retry_after"):
                    if k in arg:
                        f[k] = str(arg[k])
                with st.lock:
                    st.fault = f
            elif path == "/__device":
                with st.lock:
                    st.add_device(str(arg["ip"]), str(arg["name"]))
            elif path == "/__rename":
                with st.lock:
                    r = {"from": str(arg["from"]), "to": str(arg["to"]),
                         "after_posts": int(arg.get("after_posts", 0))}
                    if r["from"] not in st.device_ids:
                        raise ValueError("unknown device %r" % r["from"][:64])
                    if r["after_posts"] <= 0:
                        st.rename_device(r["from"], r["to"])
                    else:
                        st.rename = r
            elif path == "/__listener":
                with st.lock:
                    device = str(arg["device_name"])
                    if device not in st.device_ids:
                        raise ValueError("unknown device %r" % device[:64])
                    remote = [str(ipaddress.ip_address(x)) for x in arg.get("remote_ips", [])]
                    lip = str(ipaddress.ip_address(arg["listening_ip"]))
                    rec, _ = st.upsert(device, lip, int(arg["port"]),
                                       str(arg.get("protocol", "TCP")).upper(), remote, {})
            elif path == "/__reset":
                with st.lock:
                    st.reset()
            else:
                raise ValueError("unknown control request")
        except (ValueError, KeyError, TypeError, OverflowError, UnicodeDecodeError) as e:
            self.send_json(400, {"msg": "control: %s" % e, "code": 1})
            return
        self.send_json(200, {"msg": "ok", "code": 0})


def hold(sock, deadline):
    """Read and discard until the peer closes or the deadline passes."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            sock.settimeout(min(left, 1.0))
            if not sock.recv(4096):
                return
        except socket.timeout:
            continue
        except (OSError, ValueError):
            return


class Server(http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, args, state, ssl_ctx):
        self.args = args
        self.state = state
        self.ssl_ctx = ssl_ctx
        self.conn_sem = threading.BoundedSemaphore(args.max_conns)
        if ":" in args.host:
            self.address_family = socket.AF_INET6
        super().__init__((args.host, args.port), Handler)

    def process_request(self, request, client_address):
        if not self.conn_sem.acquire(blocking=False):
            self.shutdown_request(request)
            return
        t = threading.Thread(target=self.conn_thread, args=(request, client_address),
                             daemon=True)
        t.start()

    def conn_thread(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.conn_sem.release()

    def finish_request(self, request, client_address):
        st = self.state
        with st.lock:
            fault = st.take_fault(None, None, True)
        if fault == "nohandshake":
            hold(request, time.monotonic() + self.args.noanswer_max)
            return
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with st.lock:
                if len(st.tls_errors) < MAX_TLS_ERRORS:
                    st.tls_errors.append({"time": time.time(), "error": str(e)[:300]})
            if not self.args.quiet:
                sys.stderr.write("d42-emulator: TLS handshake failed: %s\n" % e)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, ssl.SSLError)):
            return      # the client went away: expected in fault tests
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Device42 API emulator for tests "
                                "(see the top of this file)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--http", action="store_true")
    p.add_argument("--tls-version", choices=("1.2", "1.3", "any"), default="any")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="adm!nd42")
    p.add_argument("--devices")
    p.add_argument("--device", action="append", default=[])
    p.add_argument("--sample-path", default="/api/d42pcap/sample")
    p.add_argument("--slow-seconds", type=float, default=3.0)
    p.add_argument("--noanswer-max", type=float, default=120.0)
    p.add_argument("--idle-timeout", type=float, default=30.0)
    p.add_argument("--max-conns", type=int, default=64)
    p.add_argument("--max-body", type=int, default=64 << 20)
    p.add_argument("--page-limit", type=int, default=1000)
    p.add_argument("--remote-ips-style", choices=("list", "csv", "objects"), default="list")
    p.add_argument("--post-merges", action="store_true")
    p.add_argument("--huge-body-bytes", type=int, default=32 << 20)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--quirk", action="append", default=[], choices=QUIRKS,
                   help="answer in a shape the API allows but rarely uses "
                   "(repeatable; see QUIRKS)")
    a = p.parse_args(argv)
    if not a.http and not (a.cert and a.key):
        p.error("--cert and --key are required for HTTPS (or use --http)")
    if a.max_conns < 1 or a.page_limit < 1 or a.max_body < 0:
        p.error("--max-conns, --page-limit must be >= 1")
    return a


def make_ssl(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if a.tls_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif a.tls_version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(a.cert, a.key)
    return ctx


def main(argv):
    a = parse_args(argv)
    state = State(a)
    try:
        if a.devices:
            with open(a.devices, encoding="utf-8") as f:
                devs = json.load(f)
            if not isinstance(devs, dict):
                raise ValueError("%s: a JSON object ip -> name is required" % a.devices)
            for ip, name in devs.items():
                state.add_device(ip, str(name))
        for d in a.device:
            ip, sep, name = d.partition("=")
            if not sep:
                raise ValueError("--device wants IP=NAME, not %r" % d)
            state.add_device(ip, name)
        ctx = None if a.http else make_ssl(a)
    except (OSError, ValueError, ssl.SSLError) as e:
        sys.stderr.write("d42-emulator: %s\n" % e)
        return 2
    srv = Server(a, state, ctx)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    # Blocked before any thread starts, so every thread inherits the mask and
    # the main thread alone takes the signal, learning who sent it.
    stop_sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_sigs)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    sys.stdout.write("port %d\nready\n" % port)
    sys.stdout.flush()
    info = signal.sigwaitinfo(stop_sigs)
    sys.stderr.write("d42-emulator: %s from pid %d, exiting\n"
                     % (signal.Signals(info.si_signo).name, info.si_pid))
    sys.stderr.flush()
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
