"""Switch latency probe for scripts/bench-router.

For each of N switches (alternating switch and rollback) it sends the command to the scheduler's
API, then keeps one request at a time in flight on a keep-alive connection to the router until a
response carries the new color. One thread: both sockets are watched with select, so the
command's answer is timed when it arrives, not after the probe's own request. Latency = command
sent -> first response from the new color received. Also from the command accepted: the
scheduler's answer says when it took the command (`accepted_at`, wall clock, the same clock as
the probe's on one machine), which leaves out the request's way in (the HTTP connection, the
server's parsing). Prints one line per switch and a summary.

A new probe request leaves INTERVAL_MS (default 0.5) after the previous answer, so the probe
does not take a core of its own from the switch it measures; latencies are rounded up by at
most that much.

With PROBE_TLS_CA=FILE in the environment the probe speaks HTTPS to the router (SNI APP.bench,
the router's certificate checked against FILE): the same measure over TLS.

usage: switch_probe.py API_URL API_TOKEN APP ROUTER_HOST ROUTER_PORT N [INTERVAL_MS]
"""

import json
import os
import select
import socket
import ssl
import sys
import time


def connect(host, port):
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def parse(data):
    """(status, headers, body, rest) once `data` holds a whole response, else None. Knows
    content-length and chunked bodies, and bodies ended by the close when `data` ends there."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            return None
        return status, headers, rest[:n], rest[n:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, cursor = b"", rest
        while True:
            size_line, sep, after = cursor.partition(b"\r\n")
            if not sep:
                return None
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                if not after.startswith(b"\r\n"):
                    return None
                return status, headers, body, after[2:]
            if len(after) < size + 2:
                return None
            body, cursor = body + after[:size], after[size + 2:]
    return None


class Router:
    """One keep-alive connection to the router, one request at a time."""

    def __init__(self, host, port, app):
        self.host, self.port, self.app = host, port, app
        self.sock = connect(host, port)
        ca = os.environ.get("PROBE_TLS_CA")
        if ca:
            context = ssl.create_default_context(cafile=ca)
            self.sock = context.wrap_socket(self.sock, server_hostname=f"{app}.bench")
        self.buffer = b""

    def send(self):
        self.sock.sendall(f"GET /version HTTP/1.1\r\nHost: {self.app}.bench\r\n\r\n".encode())

    def receive(self):
        """Reads what is there; returns (status, color) once the response is whole, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the router closed the probe's connection")
        self.buffer += chunk
        parsed = parse(self.buffer)
        if parsed is None:
            return None
        status, headers, _, self.buffer = parsed
        return status, headers.get("x-turnout-color")

    def color(self):
        self.send()
        while True:
            got = self.receive()
            if got:
                return got


def main():
    api, token, app, rhost, rport, n = sys.argv[1:7]
    n = int(n)
    interval = float(sys.argv[7]) / 1000 if len(sys.argv) > 7 else 0.0005
    api_host, api_port = api.split("//", 1)[1].split(":")
    router = Router(rhost, rport, app)
    _, current = router.color()
    latencies, api_times, accepted_times, failures = [], [], [], 0
    for i in range(n):
        target = "green" if current == "blue" else "blue"
        verb = "switch" if i % 2 == 0 else "rollback"
        command = connect(api_host, api_port)
        start = time.perf_counter()
        command.sendall((f"POST /v1/apps/{app}/{verb} HTTP/1.1\r\nHost: {api_host}\r\n"
                         f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                         "Content-Length: 2\r\nConnection: close\r\n\r\n{}").encode())
        answer, answered, seen, seen_wall = b"", None, None, None
        router.send()
        in_flight, next_send = True, None
        while (seen is None or answered is None) and time.perf_counter() - start < 10:
            if not in_flight and seen is None and time.perf_counter() >= next_send:
                router.send()
                in_flight = True
            watched = [router.sock] + ([command] if answered is None else [])
            wait = 1 if in_flight or seen is not None else max(0, next_send - time.perf_counter())
            ready, _, _ = select.select(watched, [], [], wait)
            if command in ready:
                chunk = command.recv(65536)
                answer += chunk
                if not chunk:
                    answered = time.perf_counter()
            if router.sock in ready:
                got = router.receive()
                if got:
                    in_flight = False
                    status, color = got
                    if status != 200:
                        failures += 1
                    if color == target and seen is None:
                        seen = time.perf_counter()
                        seen_wall = time.time()
                    next_send = time.perf_counter() + interval
        command.close()
        parsed = parse(answer) if answer else None
        if parsed is None:
            # A body ended by the close.
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head else 0
        else:
            status, _, body, _ = parsed
        if status != 200 or seen is None or answered is None:
            print(f"{i + 1:3d} {verb:8s} FAILED: {status} {answer[:300]!r}")
            sys.exit(1)
        result = json.loads(body)
        latencies.append((seen - start) * 1000)
        api_times.append((answered - start) * 1000)
        if result.get("accepted_at") is not None:
            accepted_times.append((seen_wall - result["accepted_at"]) * 1000)
        since = f", {accepted_times[-1]:6.2f} ms after accepted" if accepted_times else ""
        print(f"{i + 1:3d} {verb:8s} -> {target:5s} first {target} response after {latencies[-1]:6.2f} ms{since}"
              f" (API answered after {api_times[-1]:6.2f} ms: prepare {result['prepare_ms']:.2f},"
              f" commit {result['commit_ms']:.2f})")
        current = target
        time.sleep(0.05)

    def pct(values, q):
        s = sorted(values)
        return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]

    print(f"switch latency over {n} switches: p50 {pct(latencies, 0.5):.2f} ms, p99 {pct(latencies, 0.99):.2f} ms,"
          f" max {max(latencies):.2f} ms; API round trip p50 {pct(api_times, 0.5):.2f} ms, p99 {pct(api_times, 0.99):.2f} ms;"
          f" non-200 responses during the switches: {failures}")
    if len(accepted_times) == n:
        print(f"from the command accepted by the scheduler: p50 {pct(accepted_times, 0.5):.2f} ms,"
              f" p99 {pct(accepted_times, 0.99):.2f} ms, max {max(accepted_times):.2f} ms")
    print(f"SWITCH_P99_MS {pct(latencies, 0.99):.2f}")


if __name__ == "__main__":
    main()
