"""Simulated nodes for scripts/bench-tls: N nodes in one process, each on its own connection to
the scheduler's cluster port, joining (hello with the token's secret, and over TLS a certificate
request: the scheduler issues each node its certificate on that connection), registering with
no slots, answering commands, and sending a heartbeat every INTERVAL seconds for SECONDS.
Over TLS the scheduler's certificate is checked against the cluster CA (CA_PEM), by the name
turnout-scheduler. Prints how many nodes registered and how many heartbeats were sent.

usage: heartbeat_sim.py HOST PORT SECRET N SECONDS INTERVAL [CA_PEM CSR_PEM]
"""

import asyncio
import json
import ssl
import sys
import time


async def node(index, host, port, secret, context, csr, until, interval, counts):
    name = "sim-%04d" % index
    try:
        if context:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname="turnout-scheduler")
        else:
            reader, writer = await asyncio.open_connection(host, port)
    except Exception as error:
        counts["failed"] += 1
        counts["why"] = repr(error)
        return

    def send(body):
        writer.write((json.dumps(body, separators=(",", ":")) + "\n").encode())

    hello = {"v": 1, "type": "hello", "id": "hello", "role": "agent", "versions": [1],
             "node": name, "token": secret}
    if csr:
        hello["csr"] = csr
    send(hello)
    welcome = json.loads(await reader.readline())
    if welcome.get("type") != "welcome":
        counts["failed"] += 1
        counts["why"] = str(welcome)[:200]
        return
    send({"v": 1, "type": "register", "id": "register", "node": {
        "id": name, "name": name, "address": "127.0.0.1",
        "capacity": {"cpu_millis": 16000, "memory_bytes": 64 << 30},
        "ports": {"low": 20000, "high": 20999}, "labels": {}}})

    async def answer():
        while True:
            line = await reader.readline()
            if not line:
                return
            message = json.loads(line)
            if message.get("type") == "registered":
                counts["registered"] += 1
            elif message.get("type") == "command":
                send({"v": 1, "type": "command_ack", "id": message["id"], "ok": True,
                      "message": "ok"})

    answering = asyncio.create_task(answer())
    beat = 0
    # Spread the nodes' beats over the interval.
    await asyncio.sleep(interval * (index % 100) / 100)
    while time.monotonic() < until:
        beat += 1
        send({"v": 1, "type": "heartbeat", "id": "hb%d" % beat, "usage": {
            "cpu_used_millis": 100, "memory_used_bytes": 1 << 30,
            "memory_available_bytes": 63 << 30}})
        counts["beats"] += 1
        await writer.drain()
        await asyncio.sleep(interval)
    answering.cancel()
    writer.close()


async def main():
    host, port, secret, n, seconds, interval = sys.argv[1:7]
    context, csr = None, None
    if len(sys.argv) > 8:
        context = ssl.create_default_context(cafile=sys.argv[7])
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        csr = open(sys.argv[8]).read()
    counts = {"registered": 0, "beats": 0, "failed": 0}
    until = time.monotonic() + float(seconds)
    await asyncio.gather(*[
        node(i, host, int(port), secret, context, csr, until, float(interval), counts)
        for i in range(int(n))])
    print("nodes registered %d of %s, heartbeats sent %d, failed %d %s" % (
        counts["registered"], n, counts["beats"], counts["failed"], counts.get("why", "")))


asyncio.run(main())
