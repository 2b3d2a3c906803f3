#!/usr/bin/env python3
"""Generates known loopback traffic for tests/t_live.sh (inside a network
namespace the test created): N TCP connections to 127.0.0.1:TCP_PORT, N UDP
request/responses to 127.0.0.1:UDP_PORT, N TCP connections to [::1]:TCP6_PORT.
Every socket operation has a timeout; the whole run is bounded."""
import socket
import sys
import threading

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3
TCP_PORT, UDP_PORT, TCP6_PORT = 8080, 5353, 8443
TIMEOUT = 5.0


def tcp_server(family, addr, port, ready):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(TIMEOUT)
    s.bind((addr, port))
    s.listen(N)
    ready.set()
    for _ in range(N):
        c, _ = s.accept()
        c.settimeout(TIMEOUT)
        data = c.recv(100)
        c.sendall(b"pong:" + data)
        c.close()
    s.close()


def udp_server(ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.bind(("127.0.0.1", UDP_PORT))
    ready.set()
    for _ in range(N):
        data, peer = s.recvfrom(100)
        s.sendto(b"pong:" + data, peer)
    s.close()


def main():
    threads = []
    for target, args in ((tcp_server, (socket.AF_INET, "127.0.0.1", TCP_PORT)),
                         (tcp_server, (socket.AF_INET6, "::1", TCP6_PORT)),
                         (udp_server, ())):
        ev = threading.Event()
        t = threading.Thread(target=target, args=args + (ev,), daemon=True)
        t.start()
        if not ev.wait(TIMEOUT):
            sys.exit("server did not start")
        threads.append(t)
    for i in range(N):
        for fam, addr, port in ((socket.AF_INET, "127.0.0.1", TCP_PORT),
                                (socket.AF_INET6, "::1", TCP6_PORT)):
            c = socket.create_connection((addr, port), timeout=TIMEOUT)
            c.sendall(b"ping%d" % i)
            c.recv(100)
            c.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(TIMEOUT)
        u.sendto(b"ping%d" % i, ("127.0.0.1", UDP_PORT))
        u.recvfrom(100)
        u.close()
    for t in threads:
        t.join(TIMEOUT)
    print("traffic done")


if __name__ == "__main__":
    main()
