#!/bin/sh
# Self-test of the Device42 API emulator (tests/d42_emulator.py) and of the
# test certificates (tests/mkcerts.sh): certificate checks, authentication,
# every endpoint, every fault, clean exit on SIGTERM. The client side is
# Python's own http.client/ssl, so a failure here is the emulator's.
. "$(dirname "$0")/lib.sh"

for tool in python3 openssl; do
	command -v $tool >/dev/null 2>&1 || { skip emulator "$tool not installed"; exit 0; }
done

CERTS=$T_TMP/certs
if ! FP=$(sh "$TOP/tests/mkcerts.sh" "$CERTS" 2>"$T_TMP/mkcerts.err"); then
	fail mkcerts "$(head -c 400 "$T_TMP/mkcerts.err")"
	exit 1
fi
if [ "$(printf %s "$FP" | grep -cE '^[0-9a-f]{64}$')" = 1 ] &&
   [ "$FP" = "$(cat "$CERTS/server.sha256")" ]; then
	ok mkcerts_fingerprint
else
	fail mkcerts_fingerprint "printed '$FP'"
fi

# A password with a colon and spaces: Basic splits at the first colon only.
PW='s3:cr et!pw'
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

# start NAME ARGS...: run an emulator, wait (bounded) until it is ready
start() {
	name=$1; shift
	python3 "$TOP/tests/d42_emulator.py" --port-file "$T_TMP/$name.port" \
		--user admin --password "$PW" "$@" \
		>"$T_TMP/$name.out" 2>"$T_TMP/$name.err" &
	eval "pid_$name=$!"
	pids="$pids $!"
	i=0
	while [ $i -lt 100 ]; do
		grep -qx ready "$T_TMP/$name.out" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	fail "start_$name" "not ready after 10 s: $(head -c 400 "$T_TMP/$name.err")"
	return 1
}

printf '{"10.1.0.1": "db1", "10.1.0.2": "db2"}\n' >"$T_TMP/devices.json"
start good --cert "$CERTS/server.crt" --key "$CERTS/server.key" \
	--device 10.0.0.1=web1 --device 10.0.0.2=web2 --device 2001:db8::1=web6 \
	--slow-seconds 1 --noanswer-max 20 --huge-body-bytes 1048576 || exit 1
start wrong --cert "$CERTS/wrongname.crt" --key "$CERTS/wrongname.key" || exit 1
start self --cert "$CERTS/selfsigned.crt" --key "$CERTS/selfsigned.key" || exit 1
start plain --http --devices "$T_TMP/devices.json" --remote-ips-style csv \
	--post-merges || exit 1
start tls12 --tls-version 1.2 --cert "$CERTS/server.crt" --key "$CERTS/server.key" || exit 1

python3 - "$T_TMP" "$FP" "$PW" <<'EOF'
import base64, hashlib, http.client, json, socket, ssl, sys, time, urllib.parse

TMP, FP, PW = sys.argv[1], sys.argv[2], sys.argv[3]
CA = TMP + "/certs/ca.crt"
HOST = "127.0.0.1"
LP = "/api/2.0/service_listener_ports/"
FORM = "application/x-www-form-urlencoded"

def port(name):
    return int(open("%s/%s.port" % (TMP, name)).read())

def out(line):
    print(line)
    sys.stdout.flush()

def check(name, cond, why=""):
    out(("ok %s" % name) if cond else ("FAIL %s: %s" % (name, str(why)[:600])))

def vctx():
    return ssl.create_default_context(cafile=CA)

def nctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c

def auth(user="admin", pw=PW):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()

def conn(name="good", timeout=5, ctx=None):
    if name == "plain":
        return http.client.HTTPConnection(HOST, port(name), timeout=timeout)
    return http.client.HTTPSConnection(HOST, port(name), timeout=timeout,
                                       context=ctx or (nctx() if name in ("wrong", "self") else vctx()))

def req(method, path, body=None, headers=None, name="good", a=True, c=None, timeout=5):
    """(status, headers dict lower-case, body bytes)."""
    h = dict(headers or {})
    if a is True:
        h["Authorization"] = auth()
    elif a:
        h["Authorization"] = a
    own = c is None
    c = c or conn(name, timeout)
    try:
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            h.setdefault("Content-Type", FORM)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            c.close()

def jreq(*a, **k):
    st, h, b = req(*a, **k)
    try:
        return st, h, json.loads(b)
    except ValueError:
        return st, h, None

def state(name="good"):
    return jreq("GET", "/__state", name=name, a=False)[2]

def control(path, obj, name="good"):
    st, _, b = jreq("POST", path, body=json.dumps(obj), a=False, name=name,
                    headers={"Content-Type": "application/json"})
    return st

def fault(mode, count=1, **kw):
    d = {"mode": mode, "count": count}
    d.update(kw)
    return control("/__fault", d)

def raw(request, name="good", timeout=5, tls=True):
    """Send bytes, read until the server closes (or timeout); returns bytes."""
    s = socket.create_connection((HOST, port(name)), timeout=timeout)
    if tls:
        s = vctx().wrap_socket(s, server_hostname=HOST)
    s.sendall(request)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        got += b"<timeout>"
    except (ssl.SSLError, ConnectionError):
        pass        # closed without a TLS close_notify: a crash-like close
    s.close()
    return got

def raw_req(method, path, extra=b"", body=b"", name="good"):
    r = (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
         b"Connection: close\r\n%sContent-Length: %d\r\n\r\n%s"
         % (method.encode(), path.encode(), auth().encode(), extra, len(body), body))
    return raw(r, name)

def tls_connect(name, hostname, ctx):
    s = socket.create_connection((HOST, port(name)), timeout=5)
    try:
        t = ctx.wrap_socket(s, server_hostname=hostname)
        der = t.getpeercert(binary_form=True)
        v = t.version()
        t.close()
        return "ok", der, v
    except ssl.SSLCertVerificationError as e:
        s.close()
        return e.verify_code, None, None

def ips(ip):
    return jreq("GET", "/api/1.0/ips/?ip=" + urllib.parse.quote(ip))

def normal_ok(name):
    st, _, b = ips("10.0.0.1")
    check(name + "_then_normal", st == 200 and b["total_count"] == 1, (st, b))

# ---- TLS ----
r, der, ver = tls_connect("good", "127.0.0.1", vctx())
check("tls_verified_by_ip", r == "ok", r)
check("tls13_by_default", ver == "TLSv1.3", ver)
check("tls_fingerprint_matches",
      der is not None and hashlib.sha256(der).hexdigest() == FP, FP)
check("tls_verified_by_name", tls_connect("good", "localhost", vctx())[0] == "ok")
c12 = vctx()
c12.maximum_version = ssl.TLSVersion.TLSv1_2
check("tls12_client_accepted", tls_connect("good", "127.0.0.1", c12)[2] == "TLSv1.2")
r = tls_connect("tls12", "127.0.0.1", vctx())
check("tls12_only_server", r[0] == "ok" and r[2] == "TLSv1.2", r)
r = tls_connect("wrong", "127.0.0.1", vctx())[0]
check("tls_wrongname_rejected_by_ip", r == 64, "verify code %r, want 64 (IP mismatch)" % r)
r = tls_connect("wrong", "localhost", vctx())[0]
check("tls_wrongname_rejected_by_name", r == 62, "verify code %r, want 62 (name mismatch)" % r)
r = tls_connect("wrong", "wrong.invalid", vctx())[0]
check("tls_wrongname_cert_is_ca_signed", r == "ok", r)
r = tls_connect("self", "127.0.0.1", vctx())[0]
check("tls_selfsigned_rejected", r == 18, "verify code %r, want 18 (self-signed)" % r)
r, der, _ = tls_connect("self", "127.0.0.1", nctx())
want = open(TMP + "/certs/selfsigned.sha256").read().strip()
check("tls_selfsigned_pinnable", r == "ok" and hashlib.sha256(der).hexdigest() == want)
# the server records the client's refusals (it sees them a moment later)
for _ in range(50):
    n = len(state("wrong")["tls_errors"])
    if n >= 2:
        break
    time.sleep(0.1)
check("tls_errors_recorded", n == 2, n)
check("tls_selfsigned_errors_recorded", len(state("self")["tls_errors"]) == 1)
st, _, b = jreq("GET", "/api/1.0/ips/?ip=10.1.0.1", name="plain")
check("plain_http", st == 200 and b["ips"][0]["device"] == "db1", (st, b))

# ---- authentication ----
st, h, b = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1", a=False)
check("auth_none_401", st == 401 and "basic" in h.get("www-authenticate", "").lower()
      and isinstance(b, dict) and "msg" in b, (st, h, b))
st, _, b = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1", a=auth(pw="nope"))
check("auth_wrong_password_401", st == 401 and b["code"] == 1, (st, b))
st, _, _ = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1", a=auth(user="other"))
check("auth_wrong_user_401", st == 401)
st, _, _ = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1", a="Basic !!!notbase64")
check("auth_garbage_401", st == 401)
st, _, _ = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1", a="Bearer abc")
check("auth_other_scheme_401", st == 401)
st, _, _ = jreq("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("auth_ok", st == 200)
log = state()["requests"][-6:]
check("auth_logged", [(e["user"], e["auth"]) for e in log] ==
      [("", "none"), ("admin", "bad"), ("other", "bad"), ("", "bad"), ("", "bad"),
       ("admin", "ok")], [(e["user"], e["auth"]) for e in log])
check("auth_header_logged_as_scheme_only",
      log[-1]["headers"].get("authorization") == "Basic" and
      log[-2]["headers"].get("authorization") == "other")

# ---- /api/1.0/ips/ ----
st, _, b = ips("10.0.0.1")
check("ips_known", st == 200 and b["total_count"] == 1 and b["ips"][0]["ip"] == "10.0.0.1"
      and b["ips"][0]["device"] == "web1" and b["ips"][0]["device_id"] == 1, b)
st, _, b = ips("2001:db8:0::1")
check("ips_known_v6_normalised", b["total_count"] == 1 and b["ips"][0]["device"] == "web6", b)
st, _, b = ips("10.9.9.9")
check("ips_unknown", st == 200 and b["total_count"] == 0 and b["ips"] == [], b)
st, _, b = ips("not-an-ip")
check("ips_garbage", st == 200 and b["total_count"] == 0, b)
st, _, b = jreq("GET", "/api/1.0/ips/")
check("ips_all", [i["ip"] for i in b["ips"]] == ["10.0.0.1", "10.0.0.2", "2001:db8::1"], b)
st, _, b = jreq("GET", "/api/1.0/ips/?limit=1&offset=1")
check("ips_paged", b["total_count"] == 3 and [i["ip"] for i in b["ips"]] == ["10.0.0.2"], b)
st, _, b = jreq("GET", "/api/1.0/ips/?limit=x")
check("ips_bad_limit_400", st == 400, st)

# ---- service listener ports ----
f = {"port": "443", "device_name": "web1", "listening_ip": "10.0.0.1",
     "protocol": "TCP", "remote_ips": "10.5.0.2,10.5.0.1"}
st, _, b = jreq("POST", LP, body=f)
check("listener_created", st == 200 and b["code"] == 0 and
      b["msg"][0] == "Service listener port added/updated" and b["msg"][1] == 1 and
      b["msg"][4] is True, (st, b))
st, _, b = jreq("GET", LP + "?port=443&device_name=web1")
rec = b["service_ports"][0] if b and b.get("service_ports") else {}
check("listener_read_back", st == 200 and b["total_count"] == 1 and
      {k: rec.get(k) for k in ("id", "device_name", "listening_ip", "port", "protocol",
                               "remote_ips", "discovered_service", "mapped_service")} ==
      {"id": 1, "device_name": "web1", "listening_ip": "10.0.0.1", "port": 443,
       "protocol": "TCP", "remote_ips": ["10.5.0.1", "10.5.0.2"],
       "discovered_service": "", "mapped_service": ""} and
      len(rec.get("remote_ips_ids", [])) == 2 and rec.get("appcomp_ids") == [], b)
check("listener_form_logged", state()["requests"][-2]["form"] == f)
st, _, b = jreq("POST", LP, body=dict(f, remote_ips="10.5.0.3", protocol="tcp"))
check("listener_updated_replaces", b["msg"][1] == 1 and b["msg"][4] is False)
st, _, b = jreq("GET", LP + "?port=443")
check("listener_remote_ips_replaced", b["service_ports"][0]["remote_ips"] == ["10.5.0.3"], b)
st, _, b = jreq("POST", LP, body={"port": "443", "device_name": "web1",
                                  "listening_ip": "10.0.0.1", "discovered_service": "https"})
st, _, b = jreq("GET", LP + "?port=443")
check("listener_remote_ips_kept_when_absent",
      b["service_ports"][0]["remote_ips"] == ["10.5.0.3"] and
      b["service_ports"][0]["discovered_service"] == "https", b)
st, _, b = jreq("POST", LP, body=dict(f, protocol="UDP"))
check("listener_udp_is_another_record", b["msg"][1] == 2 and b["msg"][4] is True, b)
st, _, b = jreq("POST", LP, body={"port": "80", "device_id": "2",
                                  "listening_ip": "10.0.0.2", "remote_ips": "10.5.0.9"})
check("listener_by_device_id", st == 200 and b["msg"][1] == 3, (st, b))
st, _, b = jreq("GET", LP + "?device_name=web2")
check("listener_filter_device", b["total_count"] == 1 and
      b["service_ports"][0]["device_name"] == "web2", b)
st, _, b = jreq("GET", LP + "?listener_device_name=web1")
check("listener_filter_listener_device", b["total_count"] == 2, b)
st, _, b = jreq("GET", LP + "?limit=1&offset=1")
check("listener_paged", b["total_count"] == 3 and b["limit"] == 1 and b["offset"] == 1 and
      [r["id"] for r in b["service_ports"]] == [2], b)
st, _, b = jreq("GET", LP + "?port=443&listening_ip=10.9.9.9")
check("listener_unknown_filter_ignored", b["total_count"] == 2, b)
st, _, b = jreq("GET", LP + "?service_instance_id=1")
check("listener_service_instance_none", b["total_count"] == 0, b)
st, _, b = jreq("POST", LP, body=json.dumps(f), headers={"Content-Type": "application/json"})
check("listener_json_rejected_400", st == 400 and b["code"] == 1, (st, b))
bad = [("missing_port", {k: v for k, v in f.items() if k != "port"}),
       ("port_zero", dict(f, port="0")), ("port_big", dict(f, port="70000")),
       ("port_text", dict(f, port="4x")),
       ("unknown_device", dict(f, device_name="nosuch")),
       ("unknown_device_id", {k: v for k, v in dict(f, device_id="99").items()
                              if k != "device_name"}),
       ("no_device", {k: v for k, v in f.items() if k != "device_name"}),
       ("no_ips", {"port": "1", "device_name": "web1"}),
       ("bad_remote_ip", dict(f, remote_ips="10.5.0.1,300.1.1.1")),
       ("bad_listening_ip", dict(f, listening_ip="x"))]
for n, form in bad:
    st, _, b = jreq("POST", LP, body=form)
    check("listener_" + n + "_400", st == 400 and b["code"] == 1, (st, b))
check("listener_rejects_change_nothing", len(state()["listeners"]) == 3)
st, _, b = jreq("PUT", LP + "3/", body={"remote_ips": "10.5.0.7"})
check("listener_put_by_id", st == 200 and b["msg"][1] == 3, (st, b))
st, _, b = jreq("GET", LP + "?device_name=web2")
check("listener_put_applied", b["service_ports"][0]["remote_ips"] == ["10.5.0.7"], b)
st, _, _ = jreq("PUT", LP + "77/", body={"remote_ips": "10.5.0.7"})
check("listener_put_unknown_404", st == 404, st)

# plain instance: comma-separated listing, POSTs merge
jreq("POST", LP, body={"port": "5432", "device_name": "db1", "listening_ip": "10.1.0.1",
                       "remote_ips": "10.7.0.2"}, name="plain")
jreq("POST", LP, body={"port": "5432", "device_name": "db1", "listening_ip": "10.1.0.1",
                       "remote_ips": "10.7.0.1"}, name="plain")
st, _, b = jreq("GET", LP, name="plain")
check("listener_csv_style_and_merge",
      b["service_ports"][0]["remote_ips"] == "10.7.0.1,10.7.0.2", b)

# ---- samples ----
doc = {"interval": {"start": 1, "end": 61}, "services": [{"port": 443}]}
st, _, b = jreq("POST", "/api/d42pcap/sample", body=json.dumps(doc),
                headers={"Content-Type": "application/json; charset=utf-8"})
check("sample_stored", st == 200 and b["code"] == 0 and state()["samples"] == [doc], (st, b))
st, _, _ = jreq("POST", "/api/d42pcap/sample", body="x=1", headers={"Content-Type": FORM})
check("sample_form_415", st == 415, st)
st, _, _ = jreq("POST", "/api/d42pcap/sample", body="{broken",
                headers={"Content-Type": "application/json"})
check("sample_bad_json_400", st == 400, st)
check("sample_rejects_not_stored", len(state()["samples"]) == 1)

# ---- HTTP details ----
st, _, _ = jreq("GET", "/api/9.9/nothing/")
check("unknown_path_404", st == 404, st)
st, _, _ = jreq("DELETE", LP)
check("wrong_method_405", st == 405, st)
r = raw(b"POST " + LP.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " +
        auth().encode() + b"\r\n\r\n")
check("post_without_length_411", r.startswith(b"HTTP/1.1 411 "), r[:80])
r = raw(b"POST " + LP.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n0\r\n\r\n")
check("chunked_request_501", r.startswith(b"HTTP/1.1 501 "), r[:80])
c = conn()
s1 = req("GET", "/api/1.0/ips/?ip=10.0.0.1", c=c)[0]
s2 = req("GET", "/api/1.0/ips/?ip=10.0.0.2", c=c)[0]
c.close()
log = state()["requests"][-2:]
check("keepalive_one_connection", s1 == s2 == 200 and log[0]["conn"] == log[1]["conn"]
      and [e["conn_req"] for e in log] == [1, 2], log)
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("connection_close_honoured", b"\r\nConnection: close\r\n" in r and
      b"<timeout>" not in r, r[:300])
hd = state()["requests"][-1]["headers"]
check("headers_logged", hd.get("connection") == "close" and hd.get("host") == "127.0.0.1", hd)

# ---- control ----
check("control_device", control("/__device", {"ip": "10.0.0.50", "name": "late"}) == 200
      and ips("10.0.0.50")[2]["ips"][0]["device"] == "late")
check("control_listener_seed", control("/__listener", {
    "device_name": "late", "listening_ip": "10.0.0.50", "port": 22, "protocol": "tcp",
    "remote_ips": ["10.8.0.2", "10.8.0.1"]}) == 200)
st, _, txt = req("GET", "/__listeners", a=False)
lines = txt.decode().splitlines()
check("control_listeners_text", "late 10.0.0.50 22 TCP 10.8.0.1,10.8.0.2" in lines and
      "web1 10.0.0.1 443 TCP 10.5.0.3" in lines and len(lines) == 4, lines)
check("control_bad_fault_400", control("/__fault", {"mode": "bogus"}) == 400)
check("control_bad_json_400", jreq("POST", "/__fault", body="[1", a=False)[0] == 400)

# ---- faults ----
def simple_fault(mode, status, test):
    fault(mode)
    st, h, b = req("GET", "/api/1.0/ips/?ip=10.0.0.1")
    check("fault_" + mode, st == status and test(h, b), (st, h, b[:200]))
    normal_ok("fault_" + mode)

def js(b):
    try:
        return json.loads(b)
    except ValueError:
        return None

simple_fault("401", 401, lambda h, b: "www-authenticate" in h and js(b)["code"] == 1)
simple_fault("403", 403, lambda h, b: js(b)["code"] == 1)
simple_fault("500", 500, lambda h, b: js(b)["msg"] == "License expired")
simple_fault("500-license", 500, lambda h, b: js(b)["msg"].startswith("License is not valid for"))
simple_fault("500-plain", 500, lambda h, b: h["content-type"] == "text/html" and b"500" in b)
simple_fault("503", 503, lambda h, b: h.get("retry-after") == "1")
simple_fault("code1", 200, lambda h, b: js(b) == {"code": 1, "msg": "error"})
simple_fault("redirect", 302, lambda h, b: h.get("location") == "/elsewhere/")
simple_fault("malformed-json", 200, lambda h, b: b.startswith(b"{") and js(b) is None)
simple_fault("chunked", 200, lambda h, b: h.get("transfer-encoding") == "chunked" and
             js(b)["total_count"] == 1)
simple_fault("chunked-ext", 200, lambda h, b: js(b)["total_count"] == 1)

fault("chunked")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
head, _, body = r.partition(b"\r\n\r\n")
check("fault_chunked_wire", b"Transfer-Encoding: chunked" in head and
      b"Content-Length" not in head and body.startswith(b"7\r\n") and
      body.endswith(b"\r\n0\r\n\r\n"), r[:300])
fault("chunked-ext")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("fault_chunked_ext_wire", b"\r\n\r\n7;ext=1\r\n" in r and
      r.endswith(b"0\r\nX-Checksum: none\r\n\r\n"), r[-100:])
fault("both-cl-te")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
head = r.partition(b"\r\n\r\n")[0]
check("fault_both_cl_te", b"Transfer-Encoding: chunked" in head and
      b"Content-Length: " in head, head)
fault("huge-headers")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
head = r.partition(b"\r\n\r\n")[0]
check("fault_huge_headers", head.count(b"\r\nX-Filler-") == 1000 and len(head) > 100000,
      len(head))
fault("huge-body")
st, h, b = req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("fault_huge_body", st == 200 and len(b) == 1048576 and h["content-length"] == "1048576")
fault("huge-error")
st, h, b = req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("fault_huge_error", st == 503 and len(b) == 1048576 and h.get("retry-after") == "1")
fault("huge-accepted")
st, h, b = req("POST", LP, body={"port": "8443", "device_name": "web1",
                                 "listening_ip": "10.0.0.1", "remote_ips": "10.9.0.1"})
st2, _, txt = req("GET", "/__listeners", a=False)
check("fault_huge_accepted", st == 200 and len(b) == 1048576 and
      "web1 10.0.0.1 8443 TCP 10.9.0.1" in txt.decode().splitlines(), (st, len(b)))
simple_fault("no-list", 200, lambda h, b: js(b) == {"total_count": 0})
fault("bad-status")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("fault_bad_status", r.startswith(b"HTTP/1.1 2x0 "), r[:60])
normal_ok("fault_bad_status")

for mode, exc in (("close-mid", http.client.IncompleteRead),
                  ("close-early", http.client.RemoteDisconnected)):
    fault(mode)
    try:
        req("GET", "/api/1.0/ips/?ip=10.0.0.1")
        got = "no error"
    except Exception as e:
        got = e
    check("fault_" + mode, isinstance(got, exc), repr(got))
    normal_ok("fault_" + mode)
fault("close-mid")
r = raw_req("GET", "/api/1.0/ips/?ip=10.0.0.1")
head, _, body = r.partition(b"\r\n\r\n")
cl = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
         .split(b":")[1])
check("fault_close_mid_half_body", 0 < len(body) < cl and b"<timeout>" not in r, (cl, body))

fault("slow", seconds=1.2)
t0 = time.monotonic()
st = req("GET", "/api/1.0/ips/?ip=10.0.0.1")[0]
dt = time.monotonic() - t0
check("fault_slow", st == 200 and dt >= 1.2, (st, dt))
normal_ok("fault_slow")

fault("noanswer")
t0 = time.monotonic()
try:
    req("GET", "/api/1.0/ips/?ip=10.0.0.1", timeout=1.5)
    got = "answered"
except socket.timeout:
    got = "timeout"
check("fault_noanswer", got == "timeout" and time.monotonic() - t0 >= 1.4, got)
normal_ok("fault_noanswer")
check("fault_noanswer_logged", state()["requests"][-2]["fault"] == "noanswer" and
      state()["requests"][-2]["status"] is None)

fault("nohandshake")
s = socket.create_connection((HOST, port("good")), timeout=1.5)
try:
    vctx().wrap_socket(s, server_hostname=HOST)
    got = "handshake done"
except socket.timeout:
    got = "timeout"
except (ssl.SSLError, OSError) as e:
    got = repr(e)
s.close()
check("fault_nohandshake", got == "timeout", got)
normal_ok("fault_nohandshake")

# count -1: until cleared; path and method filters; faulted POSTs change nothing
fault("503", count=-1)
a = [req("GET", "/api/1.0/ips/?ip=10.0.0.1")[0] for _ in range(3)]
check("fault_until_cleared", a == [503, 503, 503] and state()["fault"]["count"] == -1, a)
fault("none")
normal_ok("fault_cleared")
fault("503", count=2)
req("GET", "/api/1.0/ips/?ip=10.0.0.1")
check("fault_count_visible", state()["fault"]["count"] == 1, state()["fault"])
fault("none")
fault("500", count=-1, path="/api/2.0/", method="POST")
st1 = ips("10.0.0.1")[0]
st2 = jreq("GET", LP)[0]
st3, _, b = jreq("POST", LP, body=dict(f, remote_ips="10.99.0.1"))
fault("none")
check("fault_filters", (st1, st2, st3) == (200, 200, 500), (st1, st2, st3))
st, _, b = jreq("GET", LP + "?port=443&device_name=web1")
check("fault_post_changed_nothing",
      [r["remote_ips"] for r in b["service_ports"] if r["protocol"] == "TCP"] == [["10.5.0.3"]], b)

# ---- reset ----
check("control_reset", control("/__reset", {}) == 200 and state()["listeners"] == []
      and state()["requests"] == [] and state()["samples"] == [] and
      ips("10.0.0.50")[2]["total_count"] == 1)
EOF
rc=$?
[ $rc -eq 0 ] || fail emulator_checks "the Python checks stopped early (status $rc)"

# The password must never appear in anything the emulator printed or kept.
for name in good wrong self plain tls12; do
	python3 -c '
import sys, urllib.request, ssl
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
p = open(sys.argv[1]).read().strip()
scheme = "http" if sys.argv[2] == "plain" else "https"
kw = {} if scheme == "http" else {"context": c}
sys.stdout.write(urllib.request.urlopen("%s://127.0.0.1:%s/__state" % (scheme, p), timeout=5, **kw).read().decode())
' "$T_TMP/$name.port" "$name" >"$T_TMP/$name.state" 2>&1
done
if grep -F -- "$PW" "$T_TMP"/*.out "$T_TMP"/*.err "$T_TMP"/*.state >/dev/null; then
	fail password_never_shown "found in $(grep -lF -- "$PW" "$T_TMP"/*.out "$T_TMP"/*.err "$T_TMP"/*.state)"
elif [ "$(grep -c requests "$T_TMP/good.state")" = 1 ]; then
	ok password_never_shown
else
	fail password_never_shown "no state read back"
fi

# SIGTERM: exits 0, promptly
# shellcheck disable=SC2154
kill -TERM "$pid_good"
i=0
while kill -0 "$pid_good" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid_good" 2>/dev/null; then
	fail sigterm_exit "still running after 5 s"
else
	wait "$pid_good"
	rc=$?
	if [ $rc -eq 0 ]; then ok sigterm_exit; else fail sigterm_exit "status $rc"; fi
fi
