"""Sends N requests to 127.0.0.1:PORT, each on a new connection with `Connection: close`, one
after another; exits non-zero unless every answer is a 200.
   python3 scripts/lib/close-client.py PORT N"""
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: close-client\r\nConnection: close\r\n\r\n"
failed = 0
for _ in range(count):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        failed += 1
print(f"{count} requests on new connections, {failed} not answered 200")
sys.exit(1 if failed else 0)
