"""Benchmark ``shelver serve``: 50 simulated KOReader devices for 30 s on loopback.

    /work/venv/bin/python bench/kosync.py [--devices 50] [--seconds 30] [--database-url URL]

Without ``--database-url`` it makes a throwaway home whose embedded cluster keeps PostgreSQL's
durable defaults (fsync and synchronous_commit on), so every acknowledged PUT is on disk. It
adds a login with ``shelver credentials add``, starts ``shelver serve``, and lets each device
loop (bounded by the deadline) over a KOReader-like mix: three page-turn PUTs, then a GET.
Afterwards it checks that every acknowledged PUT is in ``reading_progress_history``, stops the
server with SIGTERM, and prints requests/s, p50/p99 latency, errors and the server's CPU time
per request (measured over the devices' run only).

``--abuse`` then runs the devices again while one client sends wrong keys as fast as it can
(8 at a time) and another holds ``--idle`` idle connections; each of those two clients is a
process of its own, as separate machines on a network would be, so they share the cores with
the server and the devices but not the devices' event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import asyncpg
import psutil

REPO = Path(__file__).resolve().parents[1]
ACCEPT = "application/vnd.koreader.v1+json"
USER, PASSWORD = "bench", "bench password"


def shelver(home: Path, database_url: str | None, *args: str) -> list[str]:
    command = [sys.executable, "-m", "shelver", "--home", str(home)]
    if database_url:
        command += ["--database-url", database_url]
    return [*command, *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_dsn(home: Path, database_url: str | None) -> str:
    if database_url:
        return database_url
    out = subprocess.run(
        shelver(home, None, "db", "url"), capture_output=True, text=True, check=True, cwd=REPO
    )
    return out.stdout.strip()


async def wait_ready(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("shelver serve exited before answering")
            try:
                async with http.get(f"{base_url}/healthcheck") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("shelver serve did not answer in time")


class Results:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.acknowledged: list[tuple[str, str, str]] = []  # (document, device, progress)
        self.puts = 0
        self.gets = 0


async def device(
    n: int, http: aiohttp.ClientSession, base_url: str, key: str, deadline: float, out: Results
) -> None:
    """One KOReader: turns pages in a few books, pushing each position, sometimes pulling."""
    headers = {"accept": ACCEPT, "x-auth-user": USER, "x-auth-key": key}
    name = f"bench-device-{n:02d}"
    i = 0
    while time.monotonic() < deadline:  # bounded: stops at the deadline
        document = hashlib.md5(f"book-{(n + i // 40) % 80}".encode()).hexdigest()
        started = time.perf_counter()
        try:
            if i % 4 == 3:
                out.gets += 1
                async with http.get(
                    f"{base_url}/syncs/progress/{document}", headers=headers
                ) as response:
                    await response.read()
                    ok = response.status == 200
            else:
                out.puts += 1
                progress = f"/body/DocFragment[{i}]/body/p[{n}]/text().0"
                body = {
                    "document": document,
                    "progress": progress,
                    "percentage": round((i % 1000) / 1000, 4),
                    "device": name,
                    "device_id": f"{n:032X}",
                }
                async with http.put(
                    f"{base_url}/syncs/progress", headers=headers, json=body
                ) as response:
                    await response.read()
                    ok = response.status == 200
                if ok:
                    out.acknowledged.append((document, name, progress))
            if not ok:
                out.errors += 1
                if len(out.error_samples) < 5:
                    out.error_samples.append(f"HTTP {response.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            out.errors += 1
            if len(out.error_samples) < 5:
                out.error_samples.append(type(exc).__name__)
        out.latencies.append(time.perf_counter() - started)
        i += 1


def _device_address(n: int) -> str:
    """Each device on a loopback address of its own, like devices on a home network (the
    server limits connections and failed logins per address)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


async def drive(base_url: str, devices: int, seconds: float) -> tuple[Results, float]:
    key = hashlib.md5(PASSWORD.encode()).hexdigest()
    out = Results()
    timeout = aiohttp.ClientTimeout(total=10)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, local_addr=(_device_address(n), 0)),
            timeout=timeout,
        )
        for n in range(devices)
    ]
    try:
        # one warm-up request (the first key check is a deliberate slow hash)
        headers = {"x-auth-user": USER, "x-auth-key": key}
        async with sessions[0].get(f"{base_url}/users/auth", headers=headers) as response:
            if response.status != 200:
                raise SystemExit(f"login refused: HTTP {response.status}")
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(device(n, sessions[n], base_url, key, deadline, out) for n in range(devices))
        )
        elapsed = time.monotonic() - started
    finally:
        for session in sessions:
            await session.close()
    return out, elapsed


@dataclass
class Abuse:
    wrong_keys_sent: int = 0
    refused_429: int = 0
    refused_401: int = 0
    idle_held_max: int = 0
    idle_refused: int = 0
    idle_closed_by_server: int = 0


async def guess_keys(base_url: str, deadline: float, abuse: Abuse) -> None:
    """One client sending wrong keys for the real login as fast as it can (8 at a time)."""
    connector = aiohttp.TCPConnector(limit=8, local_addr=("127.0.9.1", 0))
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as http:

        async def worker(w: int) -> None:
            i = 0
            while time.monotonic() < deadline:
                headers = {"x-auth-user": USER, "x-auth-key": f"wrong-{w}-{i}"}
                i += 1
                try:
                    async with http.get(f"{base_url}/users/auth", headers=headers) as response:
                        await response.read()
                        abuse.wrong_keys_sent += 1
                        if response.status == 429:
                            abuse.refused_429 += 1
                        elif response.status == 401:
                            abuse.refused_401 += 1
                except (TimeoutError, aiohttp.ClientError):
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(worker(w) for w in range(8)))


async def hold_idle(port: int, count: int, deadline: float, abuse: Abuse) -> None:
    """Another client keeping ``count`` connections open and silent, re-opening any the
    server closes."""
    held: set[asyncio.StreamWriter] = set()

    async def keep_one() -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=("127.0.10.1", 0)
                )
            except OSError:
                await asyncio.sleep(0.2)
                continue
            held.add(writer)
            abuse.idle_held_max = max(abuse.idle_held_max, len(held))
            try:
                answer = await asyncio.wait_for(
                    reader.read(64), timeout=max(0.01, deadline - time.monotonic())
                )
                if answer.startswith(b"HTTP/1.1 503"):
                    abuse.idle_refused += 1
                    await asyncio.sleep(0.5)
                else:
                    abuse.idle_closed_by_server += 1
            except (TimeoutError, OSError):
                pass
            finally:
                held.discard(writer)
                writer.close()

    await asyncio.gather(*(keep_one() for _ in range(count)))


def _abuser(role: str, base_url: str, port: int, idle: int, pipe: Connection) -> None:
    """A client process of its own (the attacker or the idle holder), as on a real network:
    it says it is ready, waits for the deadline, runs its abuse and sends back its counts."""
    pipe.send("ready")
    deadline = pipe.recv()
    abuse = Abuse()
    if role == "guess":
        asyncio.run(guess_keys(base_url, deadline, abuse))
    else:
        asyncio.run(hold_idle(port, idle, deadline, abuse))
    pipe.send(abuse)
    pipe.close()


async def drive_under_abuse(
    base_url: str, port: int, devices: int, seconds: float, idle: int
) -> tuple[Results, float, Abuse]:
    """The devices' run while the attacker and the idle holder, each in its own process (the
    machine's cores are shared as with separate clients, not one event loop), do their worst."""
    context = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    for role in ("guess", "idle"):
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_abuser, args=(role, base_url, port, idle, theirs), name=f"bench-{role}"
        )
        process.start()
        theirs.close()
        pipes.append(ours)
        processes.append(process)
    try:
        for pipe in pipes:
            if not await asyncio.to_thread(pipe.poll, 60) or pipe.recv() != "ready":
                raise SystemExit("an abusing client did not start")
        # CLOCK_MONOTONIC is the same in every process of the machine
        deadline = time.monotonic() + 0.5 + seconds + 1
        for pipe in pipes:
            pipe.send(deadline)
        await asyncio.sleep(0.5)  # the abuse is under way before the devices start
        results, elapsed = await drive(base_url, devices, seconds)
        guessed, held = [await asyncio.to_thread(pipe.recv) for pipe in pipes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    abuse = Abuse(
        wrong_keys_sent=guessed.wrong_keys_sent,
        refused_429=guessed.refused_429,
        refused_401=guessed.refused_401,
        idle_held_max=held.idle_held_max,
        idle_refused=held.idle_refused,
        idle_closed_by_server=held.idle_closed_by_server,
    )
    return results, elapsed, abuse


async def verify(dsn: str, acknowledged: list[tuple[str, str, str]]) -> tuple[int, dict]:
    """How many acknowledged PUTs are missing from the history, and the server's durability."""
    conn = await asyncpg.connect(dsn)
    try:
        settings = {
            name: await conn.fetchval(f"SHOW {name}") for name in ("fsync", "synchronous_commit")
        }
        stored = await conn.fetch(
            "SELECT document, device, progress FROM reading_progress_history "
            "WHERE device LIKE 'bench-device-%'"
        )
    finally:
        await conn.close()
    have: dict[tuple[str, str, str], int] = {}
    for record in stored:
        entry = (record["document"], record["device"], record["progress"])
        have[entry] = have.get(entry, 0) + 1
    missing = 0
    for entry in acknowledged:
        if have.get(entry, 0) > 0:
            have[entry] -= 1
        else:
            missing += 1
    return missing, settings


def cluster_process(dsn: str) -> psutil.Process | None:
    """The postmaster serving ``dsn`` through a socket directory (the embedded cluster's), or
    None (another server: its CPU is not counted)."""
    socket_dir = unquote(parse_qs(urlsplit(dsn).query).get("host", [""])[0])
    if not socket_dir.startswith("/"):
        return None
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "postgres" in (process.info["name"] or "") and socket_dir in cmdline:
            return process
    return None


class CpuMeter:
    """CPU seconds so far of the server, of PostgreSQL (postmaster and backends) and of this
    process (the devices' client), to tell where the cores' time goes."""

    def __init__(self, server: psutil.Process, postgres: psutil.Process | None) -> None:
        self._server = server
        self._postgres = postgres
        self._devices = psutil.Process()

    @staticmethod
    def _seconds(*processes: psutil.Process) -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:  # a backend that has just exited
                continue
            total += times.user + times.system
        return total

    def read(self) -> dict[str, float]:
        postgres = 0.0
        if self._postgres is not None:
            postgres = self._seconds(self._postgres, *self._postgres.children(recursive=True))
        return {
            "server": self._seconds(self._server),
            "postgres": postgres,
            "devices": self._seconds(self._devices),
        }

    def since(self, before: dict[str, float], requests: int) -> dict[str, float]:
        """µs per request of each, since ``before``."""
        now = self.read()
        return {name: round((now[name] - before[name]) / max(1, requests) * 1e6, 1) for name in now}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", help="use this PostgreSQL (default: a throwaway cluster)")
    parser.add_argument("--home", help="use this home instead of a throwaway one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--abuse",
        action="store_true",
        help="then run again while one client sends wrong keys as fast as it can and another "
        "holds --idle idle connections, and compare",
    )
    parser.add_argument("--idle", type=int, default=300)
    args = parser.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="shelver-bench-"))
    throwaway = not args.home
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = home / "bench-serve.log"
    server: subprocess.Popen | None = None
    try:
        added = subprocess.run(
            shelver(home, args.database_url, "credentials", "add", "kosync", USER, "--replace"),
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if added.returncode != 0:
            raise SystemExit(f"cannot add the bench login: {added.stderr.strip()}")
        dsn = database_dsn(home, args.database_url)
        with open(log_path, "w", encoding="utf-8") as log_file:
            server = subprocess.Popen(
                shelver(home, args.database_url, "serve", "--port", str(port), "--no-watch"),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        await wait_ready(base_url, server)
        meter = CpuMeter(psutil.Process(server.pid), cluster_process(dsn))
        before = meter.read()
        results, elapsed = await drive(base_url, args.devices, args.seconds)
        cpu_alone = meter.since(before, len(results.latencies))
        abused: tuple[Results, float, Abuse] | None = None
        cpu_abused: dict[str, float] = {}
        if args.abuse:
            before = meter.read()
            abused = await drive_under_abuse(base_url, port, args.devices, args.seconds, args.idle)
            cpu_abused = meter.since(before, len(abused[0].latencies))
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=60)
        acknowledged = results.acknowledged + (abused[0].acknowledged if abused else [])
        missing, settings = await verify(dsn, acknowledged)
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        if throwaway and not args.database_url:
            subprocess.run(shelver(home, None, "db", "stop"), capture_output=True, cwd=REPO)
        if throwaway:
            shutil.rmtree(home, ignore_errors=True)

    requests = len(results.latencies)
    commits = re.search(r"stopped after (\d+) writes in (\d+) commits", log_text)
    figures = {
        "devices": args.devices,
        "seconds": round(elapsed, 2),
        "requests": requests,
        "puts": results.puts,
        "gets": results.gets,
        "requests_per_second": round(requests / elapsed, 1),
        "p50_ms": round(percentile(results.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(results.latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(results.latencies) * 1000, 2),
        "errors": results.errors,
        "error_samples": results.error_samples,
        "acknowledged_puts": len(results.acknowledged),
        "acknowledged_puts_missing_from_history": missing,
        "server_exit_code": exit_code,
        "server_cpu_us_per_request": cpu_alone["server"],
        "postgres_cpu_us_per_request": cpu_alone["postgres"],
        "devices_client_cpu_us_per_request": cpu_alone["devices"],
        "server_log_lines": log_text.count("shelver.serve.access"),
        "commits": int(commits[2]) if commits else None,
        "puts_per_commit": round(int(commits[1]) / max(1, int(commits[2])), 1) if commits else None,
        "fsync": settings["fsync"],
        "synchronous_commit": settings["synchronous_commit"],
        "cpus": os.cpu_count(),
    }
    if abused is not None:
        under, under_elapsed, abuse = abused
        under_rate = len(under.latencies) / under_elapsed
        figures["abuse"] = {
            "requests_per_second": round(under_rate, 1),
            "throughput_kept": round(under_rate / figures["requests_per_second"], 3),
            "p50_ms": round(percentile(under.latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(under.latencies, 0.99) * 1000, 2),
            "errors": under.errors,
            "error_samples": under.error_samples,
            "server_cpu_us_per_device_request": cpu_abused["server"],
            "postgres_cpu_us_per_device_request": cpu_abused["postgres"],
            "wrong_keys_sent": abuse.wrong_keys_sent,
            "wrong_keys_answered_401": abuse.refused_401,
            "wrong_keys_refused_429": abuse.refused_429,
            "idle_connections_held_at_most": abuse.idle_held_max,
            "idle_connections_refused_503": abuse.idle_refused,
            "idle_connections_closed_by_server": abuse.idle_closed_by_server,
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{figures['requests_per_second']:.0f} requests/s over {figures['seconds']} s "
            f"with {args.devices} devices ({results.puts} PUT, {results.gets} GET)\n"
            f"latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
            f"mean {figures['mean_ms']} ms\n"
            f"errors {results.errors}; acknowledged PUTs {len(results.acknowledged)}, "
            f"missing from history {missing}\n"
            f"fsync={settings['fsync']} synchronous_commit={settings['synchronous_commit']}; "
            f"server exit code {exit_code}; {figures['commits']} commits "
            f"({figures['puts_per_commit']} PUTs each); "
            f"{figures['server_log_lines']} request log lines; "
            f"CPU per request: server {figures['server_cpu_us_per_request']} µs, PostgreSQL "
            f"{figures['postgres_cpu_us_per_request']} µs, the devices' client "
            f"{figures['devices_client_cpu_us_per_request']} µs"
        )
        if abused is not None:
            a = figures["abuse"]
            print(
                f"under abuse: {a['requests_per_second']:.0f} requests/s "
                f"({a['throughput_kept']:.0%} of the above), p50 {a['p50_ms']} ms, "
                f"p99 {a['p99_ms']} ms, errors {a['errors']}, CPU per device request: server "
                f"{a['server_cpu_us_per_device_request']} µs, PostgreSQL "
                f"{a['postgres_cpu_us_per_device_request']} µs; attacker sent "
                f"{a['wrong_keys_sent']} wrong keys ({a['wrong_keys_answered_401']} checked, "
                f"{a['wrong_keys_refused_429']} refused unchecked); idle client held at most "
                f"{a['idle_connections_held_at_most']} connections "
                f"({a['idle_connections_refused_503']} refused, "
                f"{a['idle_connections_closed_by_server']} closed by the server)"
            )
    healthy = results.errors == 0 and missing == 0 and exit_code == 0
    if abused is not None:
        healthy = healthy and abused[0].errors == 0
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
