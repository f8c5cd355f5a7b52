"""How many dial requests a second the simulator takes, and how many webhooks a second it sends.

The dial benchmark needs the simulator to take well over 1,000 dial requests/s, answered after
200 ms, while it sends the 2-5 webhooks of each call and the dialer and receiver run beside it.
This runs the three parts as separate processes on this machine, all on 127.0.0.1:

  - the simulator (`campaigner simulate`), calls ringing out at once, EnableX by default (the
    provider with the most webhooks per call: 5 for a delivered call);
  - a minimal webhook receiver that counts what it gets (uvicorn + a bare ASGI app);
  - a load generator: this process, keeping --concurrency dial requests in flight.

It prints the dial requests answered per second, the webhooks delivered per second (from the
first dial request to the last webhook), and the simulator's own stats. Bounded by --calls.

    .venv/bin/python benchmarks/simulator_bench.py --calls 20000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import uvloop

from campaigner.simulator.sender import SendError, WebhookSender
from campaigner.simulator.server import bind

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNER = [sys.executable, "-c", "from campaigner.cli import main; main()"]

RECEIVER = """
import sys, uvicorn
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b"ok"
    if scope["path"] == "/count":
        body = str(count).encode()
    else:
        count += 1
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", loop="uvloop",
            log_level="warning", access_log=False, lifespan="off", backlog=4096)
"""


def free_port() -> int:
    sock = bind(0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def wait_for_port(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # a child process starting: nothing to wait on but its port
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dial_body(provider: str, index: int, receiver: str) -> bytes:
    number = f"+1415{index:07d}"
    if provider == "enablex":
        body: dict[str, object] = {
            "name": "bench",
            "owner_ref": f"c{index}",
            "from": "+13215550100",
            "to": number,
            "action_on_connect": {
                "play": {"text": "Hello", "voice": "female", "language": "en-US"}
            },
            "event_url": f"{receiver}/hook",
        }
    else:
        body = {
            "callerId": "+13215550100",
            "dialedNumber": number,
            "correlationId": f"c{index}",
            "audio": {"type": "TTS", "text": "Hello"},
            "callbackUrl": f"{receiver}/hook",
        }
    return json.dumps(body).encode()


async def load(args: argparse.Namespace, simulator: str, receiver: str) -> tuple[float, int]:
    sender = WebhookSender(connections_per_host=args.concurrency, timeout=30)
    if args.provider == "enablex":
        url = f"{simulator}/enablex/voice/v1/call"
        headers = {
            "Authorization": "Basic "
            + base64.b64encode(b"sim-enablex-app:sim-enablex-key").decode()
        }
    else:
        url = f"{simulator}/webex/v1/voice/messages"
        headers = {"key": "sim-webex-key"}
    counter = iter(range(args.calls))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for index in counter:
            try:
                status = await sender.send(
                    "POST", url, dial_body(args.provider, index, receiver), headers
                )
            except SendError:
                status = 0
            failures += status not in (200, 202)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - began
    sender.close()
    return elapsed, failures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=400)
    parser.add_argument("--latency", default="0.2", help="simulator answer latency, seconds")
    parser.add_argument("--provider", choices=("enablex", "webex"), default="enablex")
    args = parser.parse_args()

    sim_port, receiver_port = free_port(), free_port()
    simulator, receiver = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{receiver_port}"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen([sys.executable, "-c", RECEIVER, str(receiver_port)], env=environment),
        subprocess.Popen(
            [
                *CAMPAIGNER,
                "simulate",
                "--port",
                str(sim_port),
                "--plain",
                "--ring-delay",
                "0",
                "--play-duration",
                "0",
                "--hangup-timeout",
                "0",
                "--answer-latency",
                args.latency,
                "--webhook-retry-gap",
                "1",
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
        ),
    ]
    try:
        deadline = time.monotonic() + 30
        wait_for_port(f"{receiver}/count", deadline)
        wait_for_port(f"{simulator}/_sim/stats", deadline)
        began = time.perf_counter()
        elapsed, failures = uvloop.run(load(args, simulator, receiver))
        stats = get_json(f"{simulator}/_sim/stats")
        assert isinstance(stats, dict)
        settle = time.monotonic() + 120
        previous = -1
        while time.monotonic() < settle:  # webhooks still in flight after the last answer
            stats = get_json(f"{simulator}/_sim/stats")
            assert isinstance(stats, dict)
            if stats["webhooks_sent"] == previous:
                break
            previous = stats["webhooks_sent"]
            time.sleep(0.5)
        webhook_span = time.perf_counter() - began - 0.5
        received = get_json(f"{receiver}/count")
        print(
            f"provider            {args.provider}, answer latency {args.latency} s, "
            f"{args.concurrency} requests in flight"
        )
        print(
            f"dial requests       {args.calls} in {elapsed:.2f} s = {args.calls / elapsed:,.0f}/s "
            f"({failures} not accepted)"
        )
        print(
            f"webhooks delivered  {received} in {webhook_span:.2f} s = "
            f"{int(received) / webhook_span:,.0f}/s ({stats['webhooks_undelivered']} undelivered)"
        )
        cpu = cpu_seconds(children[1].pid)
        print(
            f"simulator CPU       {cpu:.1f} s = {1e6 * cpu / (args.calls + int(received)):.0f} us "
            "per request handled or webhook sent"
        )
        print(f"simulator stats     {json.dumps(stats)}")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


if __name__ == "__main__":
    main()
