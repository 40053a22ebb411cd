"""HTTP load benchmark: the real server (uvicorn, loopback only) driven by an async httpx client.

    .venv/bin/python benchmarks/http_load.py [--rate 200] [--duration 20] [--saturation 10] [--concurrency 16]
        [--client raw|httpx]

Starts ``python -m painpath.api.server`` on 127.0.0.1 with a fresh data directory (SQLite, WAL,
synchronous=FULL) or ``--database-url``, creates a clinician API key, then:

1. fixed rate: open-loop requests at ``--rate`` per second for ``--duration`` seconds, first
   ``POST /v1/evaluations`` (rotating through ``examples/patients/*.json``), then ``GET /healthz``;
   latency is measured from each request's *scheduled* time, so client lag counts against us;
2. saturation: ``--concurrency`` closed-loop clients for ``--saturation`` seconds; throughput.

The load generator shares the server's two cores, so its own CPU counts against the server. The
default client (``--client raw``) is a minimal HTTP/1.1 keep-alive client on asyncio streams, as a
native load generator would be (it sends ``Accept-Encoding: zstd`` and decompresses what it checks);
``--client httpx`` drives the same phases through httpx, which costs about 2 ms of CPU per request.
The load generator's CPU per request is printed with the results.

Targets (issue 12, 2-core machine): evaluation p99 < 25 ms at 200 req/s; evaluation p50 within 2x of
the healthz p50 in the same run (issue 4's were p99 < 50 ms at 100 req/s and 3x: ``--rate 100``).

``--audit-flood`` runs the audit-flood phase instead (issue 13): evaluations at ``--rate`` for
``--duration`` seconds while quiet, then again while an auditor floods ``POST /v1/audits`` with
synthetic cohorts (accepted up to the queue bound, 429 beyond it). Target: evaluation p50 under the
flood at most 1.5x the quiet p50.
Responses with status ``manual_review`` (the two evaluators disagreed, or the engine failed) are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zstandard

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    manual_review: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    """The load generator's own CPU time in this phase."""

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def quantile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(q * (len(data) - 1)))]

    def row(self) -> str:
        n = len(self.latencies_ms)
        rate = n / self.elapsed_s if self.elapsed_s else 0.0
        mean = statistics.fmean(self.latencies_ms) if n else float("nan")
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        client_ms = self.client_cpu_s * 1e3 / n if n else float("nan")
        return (
            f"{self.name:<34} {n:>6} {rate:>8.1f} {self.quantile(0.5):>8.2f} {self.quantile(0.95):>8.2f} "
            f"{self.quantile(0.99):>8.2f} {mean:>8.2f} {client_ms:>9.2f}  manual_review {self.manual_review}; "
            f"errors {errors}"
        )


HEADER = (
    f"{'phase':<34} {'ok':>6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'client ms':>9}"
)


def patients() -> list[bytes]:
    files = sorted((ROOT / "examples" / "patients").glob("*.json"))
    bodies = [f.read_bytes() for f in files]
    if not bodies:
        sys.path.insert(0, str(ROOT / "src"))
        from painpath.api.examples import FACTS_EXAMPLES  # noqa: PLC0415 - only when the examples are absent

        bodies = [json.dumps(e["value"]).encode() for e in FACTS_EXAMPLES.values()]
    return bodies


def start_server(env: dict[str, str], log: Path | None) -> tuple[subprocess.Popen[str], str]:
    stderr = log.open("w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [PYTHON, "-m", "painpath.api.server", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "serving http://" in line:
            return proc, line.split("serving ", 1)[1].split()[0].rstrip(";")
    proc.wait()
    raise SystemExit(f"server did not start (exit {proc.returncode}); run it by hand to see why")


KEEP_ALIVE_REUSE_S = 3.0


class RawClient:
    """A minimal HTTP/1.1 client: keep-alive connections on asyncio streams, one request at a time each."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host.strip("[]"), int(port)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"host": f"{host}:{port}", **headers}.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.zstd = zstandard.ZstdDecompressor()

    async def request(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        reader, writer = await self.connection()
        try:
            extra = f"content-type: application/json\r\ncontent-length: {len(body)}\r\n" if body is not None else ""
            writer.write(f"{method} {url} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + (body or b""))
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer, time.monotonic()))
        if fields.get("content-encoding") == "zstd":
            content = self.zstd.decompressobj().decompress(content[:1024])  # enough for the status check
        return status, content

    async def connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """An idle keep-alive connection, or a new one: uvicorn closes connections idle for 5 s, so older ones are
        dropped rather than reused (a request on a connection the server is closing would fail)."""
        while self.idle:
            reader, writer, used = self.idle.pop()
            if time.monotonic() - used < KEEP_ALIVE_REUSE_S:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def aclose(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


class HttpxClient:
    """The same requests through httpx (which decompresses every response)."""

    def __init__(self, base: str, headers: dict[str, str], concurrency: int) -> None:
        limits = httpx.Limits(max_connections=max(64, concurrency), max_keepalive_connections=64)
        self.client = httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30)

    async def request(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        if body is None:
            response = await self.client.request(method, url)
        else:
            response = await self.client.request(
                method, url, content=body, headers={"content-type": "application/json"}
            )
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


Client = RawClient | HttpxClient


async def one(
    client: Client, phase: Phase, method: str, url: str, body: bytes | None, scheduled: float, expect: int
) -> None:
    try:
        status, content = await client.request(method, url, body)
    except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, zstandard.ZstdError) as exc:
        phase.error(type(exc).__name__)
        return
    latency = (time.perf_counter() - scheduled) * 1e3
    if status != expect:
        phase.error(str(status))
        return
    if body is not None and b'"status":"manual_review"' in content[:400]:
        phase.manual_review += 1
    phase.latencies_ms.append(latency)


async def fixed_rate(
    client: Client,
    name: str,
    method: str,
    url: str,
    bodies: list[bytes] | None,
    rate: float,
    duration: float,
    expect: int,
) -> Phase:
    phase = Phase(name)
    cpu = time.process_time()
    n = int(rate * duration)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = bodies[i % len(bodies)] if bodies else None
        tasks.append(asyncio.create_task(one(client, phase, method, url, body, scheduled, expect)))
    await asyncio.gather(*tasks)
    phase.elapsed_s = time.perf_counter() - start
    phase.client_cpu_s = time.process_time() - cpu
    return phase


async def saturate(
    client: Client,
    name: str,
    method: str,
    url: str,
    bodies: list[bytes] | None,
    concurrency: int,
    duration: float,
    expect: int,
) -> Phase:
    phase = Phase(name)
    stop = time.perf_counter() + duration
    counter = iter(range(1 << 62))

    async def worker() -> None:
        while time.perf_counter() < stop:
            i = next(counter)
            body = bodies[i % len(bodies)] if bodies else None
            await one(client, phase, method, url, body, time.perf_counter(), expect)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed_s = time.perf_counter() - started
    phase.client_cpu_s = time.process_time() - cpu
    return phase


async def drive(base: str, token: str, args: argparse.Namespace) -> list[Phase]:
    bodies = patients()
    headers = {"authorization": f"Bearer {token}"}
    client: Client
    if args.client == "raw":
        client = RawClient(base, {**headers, "accept-encoding": "zstd"})
    else:
        client = HttpxClient(base, headers, args.concurrency)
    try:
        for i in range(50):  # warm up connections, caches and the workers
            await client.request("POST", "/v1/evaluations", bodies[i % len(bodies)])
            await client.request("GET", "/healthz", None)
        return [
            await fixed_rate(
                client,
                f"POST /v1/evaluations @ {args.rate:g}/s",
                "POST",
                "/v1/evaluations",
                bodies,
                args.rate,
                args.duration,
                201,
            ),
            await fixed_rate(
                client, f"GET /healthz @ {args.rate:g}/s", "GET", "/healthz", None, args.rate, args.duration, 200
            ),
            await saturate(
                client,
                f"POST /v1/evaluations x{args.concurrency} clients",
                "POST",
                "/v1/evaluations",
                bodies,
                args.concurrency,
                args.saturation,
                201,
            ),
            await saturate(
                client,
                f"GET /healthz x{args.concurrency} clients",
                "GET",
                "/healthz",
                None,
                args.concurrency,
                args.saturation,
                200,
            ),
        ]
    finally:
        await client.aclose()


def _flood(base: str, auditor: str, body: bytes, seconds: float, retry: float, answers: Any) -> None:
    """In a process of its own (so the measuring client's event loop is not the flooder's): post audits,
    as fast as they are accepted and again ``retry`` seconds after each refusal."""

    async def flood() -> None:
        stop = time.perf_counter() + seconds
        headers = {"authorization": f"Bearer {auditor}", "content-type": "application/x-ndjson"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

            async def one_flooder() -> None:
                while time.perf_counter() < stop:
                    try:
                        r = await client.post("/v1/audits", content=body)
                        key = str(r.status_code)
                    except httpx.HTTPError as exc:  # a 429 closes the connection while a large upload is sent
                        key = type(exc).__name__
                    answers[key] = answers.get(key, 0) + 1
                    await asyncio.sleep(0.01 if key == "202" else retry)

            await asyncio.gather(*(one_flooder() for _ in range(4)))

    asyncio.run(flood())


async def audit_flood(
    base: str, token: str, auditor: str, args: argparse.Namespace
) -> tuple[Phase, Phase, dict[str, int]]:
    """Evaluations while quiet, then while audits flood in (from another process); returns both phases and
    the answers the flooder got."""
    sys.path.insert(0, str(ROOT / "src"))
    from painpath.audit.synth import cohort  # noqa: PLC0415 - the synthetic cohort generator of painpath

    bodies = patients()
    flood_body = ("\n".join(json.dumps(p) for p in cohort(args.flood_patients, 13)) + "\n").encode()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        answers = manager.dict()
        headers = {"authorization": f"Bearer {token}"}
        client: Client = (
            RawClient(base, {**headers, "accept-encoding": "zstd"})
            if args.client == "raw"
            else HttpxClient(base, headers, 64)
        )
        try:
            for i in range(50):
                await client.request("POST", "/v1/evaluations", bodies[i % len(bodies)])
            quiet = await fixed_rate(
                client,
                f"POST /v1/evaluations @ {args.rate:g}/s quiet",
                "POST",
                "/v1/evaluations",
                bodies,
                args.rate,
                args.duration,
                201,
            )
            flooder = context.Process(
                target=_flood, args=(base, auditor, flood_body, args.duration + 4, args.flood_retry, answers)
            )
            flooder.start()
            await asyncio.sleep(3)  # the flood is under way (audit workers busy) before measuring
            loaded = await fixed_rate(
                client,
                f"POST /v1/evaluations @ {args.rate:g}/s audit flood",
                "POST",
                "/v1/evaluations",
                bodies,
                args.rate,
                args.duration,
                201,
            )
            await asyncio.to_thread(flooder.join)
        finally:
            await client.aclose()
        return quiet, loaded, dict(answers)


def run_audit_flood(env: dict[str, str], token: str, args: argparse.Namespace) -> int:
    auditor = subprocess.run(
        [PYTHON, "-m", "painpath.cli.keys", "create", "--role", "auditor", "--name", "bench-auditor"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc, base = start_server(env, args.server_log)
    try:
        quiet, loaded, answers = asyncio.run(audit_flood(base, token, auditor, args))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"painpath HTTP benchmark, audit flood: {base}; {os.cpu_count()} CPUs; client and server on one machine")
    print(HEADER)
    print(quiet.row())
    print(loaded.row())
    ratio = loaded.quantile(0.5) / quiet.quantile(0.5)
    print(
        f"audit answers during the flood ({args.flood_patients} patients each): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
    )
    print(f"the flooder retried {args.flood_retry:g} s after each refusal")
    print(f"evaluation p50 flood / quiet = {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})")
    return 0 if ratio <= 1.5 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second in the fixed-rate phases")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per fixed-rate phase")
    parser.add_argument("--saturation", type=float, default=10.0, help="seconds per saturation phase")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop clients at saturation")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal HTTP/1.1 client (default) or httpx (~2 ms of CPU per request)",
    )
    parser.add_argument("--database-url", help="benchmark against this database instead of a fresh SQLite file")
    parser.add_argument("--server-log", type=Path, help="keep the server's JSON log in this file")
    parser.add_argument("--audit-flood", action="store_true", help="run the audit-flood phase instead (issue 13)")
    parser.add_argument("--flood-patients", type=int, default=2000, help="patients per flooding audit upload")
    parser.add_argument(
        "--flood-retry", type=float, default=1.0, help="seconds the flooder waits after a refusal (0.01: no manners)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="painpath-bench-") as data:
        env = {**os.environ, "PAINPATH_DATA_DIR": data, "PAINPATH_LOG_LEVEL": "INFO"}
        env.pop("PAINPATH_DEV_MODE", None)
        if args.database_url:
            env["PAINPATH_DATABASE_URL"] = args.database_url
        else:
            env.pop("PAINPATH_DATABASE_URL", None)
        token = subprocess.run(
            [PYTHON, "-m", "painpath.cli.keys", "create", "--role", "clinician", "--name", "bench"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if args.audit_flood:
            return run_audit_flood(env, token, args)
        proc, base = start_server(env, args.server_log)
        try:
            phases = asyncio.run(drive(base, token, args))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    database = f"database {args.database_url.split('@')[-1]}" if args.database_url else "SQLite WAL, synchronous=FULL"
    print(
        f"painpath HTTP benchmark: {base} ({database}); {os.cpu_count()} CPUs; client ({args.client}) and server "
        "on one machine; client ms: the load generator's own CPU per request"
    )
    print(HEADER)
    for phase in phases:
        print(phase.row())
    evaluation, health = phases[0], phases[1]
    ratio = evaluation.quantile(0.5) / health.quantile(0.5)
    p99_ok = evaluation.quantile(0.99) < 25 and args.rate >= 200
    print(
        f"evaluation p99 {evaluation.quantile(0.99):.2f} ms at {args.rate:g}/s (target < 25 at 200/s: "
        f"{'met' if p99_ok else 'MISSED'}); evaluation p50 / healthz p50 = {ratio:.2f} (target <= 2: "
        f"{'met' if ratio <= 2 else 'MISSED'})"
    )
    print(
        f"throughput at saturation: evaluations {len(phases[2].latencies_ms) / phases[2].elapsed_s:.1f} req/s, "
        f"healthz {len(phases[3].latencies_ms) / phases[3].elapsed_s:.1f} req/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
