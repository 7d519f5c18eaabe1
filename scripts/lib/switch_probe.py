"""Switch latency probe for scripts/bench-router.

For each of N switches (alternating switch and rollback) it sends the command to the scheduler's
API and then, on one keep-alive connection to the router, requests as fast as it can until a
response carries the new color; the command's answer is read after that (one thread). Latency = command sent -> first response from the
new color received. Prints one line per switch and a summary.

usage: switch_probe.py API_URL API_TOKEN APP ROUTER_HOST ROUTER_PORT N
"""

import http.client
import json
import socket
import sys
import time


def api_send(url, token, path):
    """Sends the command on its own connection and returns the socket without waiting: one
    thread, so no interpreter lock delays the command or the probe."""
    host, port = url.split("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").encode())
    return sock


def api_receive(sock):
    """Reads the whole answer; returns (status, body, time it was complete)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    done = time.perf_counter()
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return status, body, done


def color(conn, app):
    conn.request("GET", "/version", headers={"Host": app + ".bench"})
    resp = conn.getresponse()
    resp.read()
    return resp.getheader("x-turnout-color"), resp.status


def main():
    api, token, app, rhost, rport, n = sys.argv[1:7]
    n = int(n)
    conn = http.client.HTTPConnection(rhost, int(rport), timeout=10)
    current, _ = color(conn, app)
    latencies, api_times, failures = [], [], 0
    for i in range(n):
        target = "green" if current == "blue" else "blue"
        verb = "switch" if i % 2 == 0 else "rollback"
        start = time.perf_counter()
        sock = api_send(api, token, f"/v1/apps/{app}/{verb}")
        seen = None
        while time.perf_counter() - start < 10:
            got, status = color(conn, app)
            if status != 200:
                failures += 1
            if got == target:
                seen = time.perf_counter()
                break
        status, raw, done = api_receive(sock)
        if status != 200 or seen is None:
            print(f"{i + 1:3d} {verb:8s} FAILED: {status} {raw[:300]!r}")
            sys.exit(1)
        out = {"done": done, "body": json.loads(raw)}
        latencies.append((seen - start) * 1000)
        api_times.append((out["done"] - start) * 1000)
        body = out["body"]
        print(f"{i + 1:3d} {verb:8s} -> {target:5s} first {target} response after {latencies[-1]:6.2f} ms"
              f" (API answered after {api_times[-1]:6.2f} ms: prepare {body['prepare_ms']:.2f}, commit {body['commit_ms']:.2f})")
        current = target
        time.sleep(0.05)

    def pct(values, q):
        s = sorted(values)
        return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]

    print(f"switch latency over {n} switches: p50 {pct(latencies, 0.5):.2f} ms, p99 {pct(latencies, 0.99):.2f} ms,"
          f" max {max(latencies):.2f} ms; API round trip p50 {pct(api_times, 0.5):.2f} ms, p99 {pct(api_times, 0.99):.2f} ms;"
          f" non-200 responses during the switches: {failures}")
    print(f"SWITCH_P99_MS {pct(latencies, 0.99):.2f}")


if __name__ == "__main__":
    main()
