"""Single-lead latency through HTTP on loopback, side by side with the same server's `/health`.

Builds a synthetic SQLite database (default 5,000 leads with their activities, like `leadml demo`),
trains its models, starts `leadml serve` (uvicorn) in a separate process and drives it with
closed-loop keep-alive clients, first 1 client, then 20 concurrent clients. Per level it measures,
one after another for `--seconds` each:

- `health`: GET /health
- `predict_model`: POST .../leads/{id}/ml/predict {"forceRefresh": true} (the trained model)
- `predict_rules`: the same with "ruleBasedOnly": true
- `cached_get`: GET .../leads/{id}/ml/prediction (a stored prediction)

Lead ids rotate over all leads (over 200 leads predicted beforehand for the cached GET). Each row
also gives the server's CPU time per request (from /proc), which other processes on a busy machine
inflate much less than they inflate latency. The server is stopped at the end, whatever happens, and the whole
run is bounded by `--timeout`. Prints one JSON line: per level and endpoint p50/p99 (ms),
throughput (per second), requests and errors, the ratios to `/health`, and the targets of
BENCHMARKS.md (1 client: predict p50 <= 10x /health's, cached GET <= 3x; 20 clients: predict
throughput >= 0.2x /health's with zero errors).

    python benchmarks/bench_latency.py                     # 5,000 leads, 5 s per measurement
    python benchmarks/bench_latency.py --leads 1000 --seconds 2
    python benchmarks/bench_latency.py --db var/bench.db   # keep (and on later runs reuse) the database
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE = "/api/lead-scoring"
ENDPOINTS = ("health", "predict_model", "predict_rules", "cached_get")
CACHED_LEADS = 200


# --- the database --------------------------------------------------------------------------------


def build_database(url: str, leads: int, seed: int) -> dict:
    """A tenant, a config, `leads` synthetic leads with activities and outcomes, trained models."""
    from sqlalchemy import func, select

    from leadml import db, migrate
    from leadml.scoring import training
    from leadml.storage import bulk, configs, tenants
    from leadml.storage.tables import Lead, ModelVersion
    from leadml.synth import generate_funnel

    engine = db.make_engine(url)
    migrate.upgrade(engine)
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        existing = session.scalar(select(func.count()).select_from(Lead)) or 0
        if existing:
            tenant = tenants.get_tenant_by_name(session, "bench")
            key = tenants.create_api_key(session, tenant_id=tenant.id)
            config_id = configs.list_configs(session, tenant_id=tenant.id)[0].id
        else:
            tenant, key = tenants.create_tenant(session, name="bench")
            config_id = configs.create_config(session, tenant_id=tenant.id, values={"name": "bench"}).id
        tenant_id = tenant.id
    setup: dict = {"reused": bool(existing)}
    if not existing:
        started = time.perf_counter()
        funnel = generate_funnel(leads, seed=seed)
        bulk.insert_funnel(engine, funnel, tenant_id=tenant_id, config_id=config_id)
        setup["activities"] = len(funnel.activities)
        del funnel
        result = training.train_config(engine, sessions, config_id=config_id)
        setup["setup_seconds"] = round(time.perf_counter() - started, 1)
        setup["model_auc"] = round(result["conversion"]["metrics"]["auc"], 4)
        setup["time_to_close_model"] = "versionId" in result.get("timeToClose", {})
    with db.transaction(sessions) as session:
        lead_ids = list(session.scalars(select(Lead.id).where(Lead.config_id == config_id).order_by(Lead.id)))
        active = session.scalar(select(func.count()).select_from(ModelVersion)
                                .where(ModelVersion.config_id == config_id, ModelVersion.status == "active"))
    engine.dispose()
    if not active:
        raise SystemExit("no active model after training: the benchmark needs a trained model")
    return {"key": key, "lead_ids": lead_ids, **setup}


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, workdir: Path) -> subprocess.Popen:
    """`leadml serve` exactly as a user starts it, in its own process group."""
    env = {**os.environ, "LEADML_DATABASE_URL": url, "LEADML_DATA_DIR": str(workdir / "var")}
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-c", "from leadml.cli import app; app()", "serve", "--host", "127.0.0.1",
               "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode} before it was ready")
        try:
            with Connection(port) as conn:
                if conn.request("GET", "/health")[0] == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer /health in time")


# --- a lean HTTP/1.1 keep-alive client (the client shares the 2 cores with the server) -------------


class Connection:
    def __init__(self, port: int, timeout: float = 30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def request(self, method: str, path: str, headers: str = "", body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected from these endpoints")
        while len(self.buffer) < length:
            self._read()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, payload

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk


# --- closed-loop load ------------------------------------------------------------------------------


def make_request(endpoint: str, key: str, lead_id: int) -> tuple[str, str, str, bytes]:
    auth = f"Authorization: Bearer {key}\r\n"
    if endpoint == "health":
        return "GET", "/health", "", b""
    if endpoint == "predict_model":
        return "POST", f"{BASE}/leads/{lead_id}/ml/predict", auth, b'{"forceRefresh": true}'
    if endpoint == "predict_rules":
        return "POST", f"{BASE}/leads/{lead_id}/ml/predict", auth, b'{"forceRefresh": true, "ruleBasedOnly": true}'
    return "GET", f"{BASE}/leads/{lead_id}/ml/prediction", auth, b""


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time the server process has used (Linux): per request, a figure other load cannot inflate
    as much as it inflates latency."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(port: int, key: str, endpoint: str, lead_ids: list[int], clients: int, seconds: float,
             warmup: float, server_pid: int | None = None) -> dict:
    """`clients` threads, each one connection sending its next request as soon as the last is answered."""
    counter = iter(range(10**12))
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_at = time.perf_counter() + 0.2
    measure_from, stop_at = start_at + warmup, start_at + warmup + seconds

    def client(index: int) -> None:
        conn = Connection(port)
        try:
            while time.perf_counter() < start_at:
                time.sleep(0.001)
            while True:
                with lock:
                    lead_id = lead_ids[next(counter) % len(lead_ids)]
                method, path, headers, body = make_request(endpoint, key, lead_id)
                began = time.perf_counter()
                if began >= stop_at:
                    break
                try:
                    status, _payload = conn.request(method, path, headers, body)
                    ok = status == 200
                except (OSError, ConnectionError, ValueError):
                    ok = False
                    conn.sock.close()
                    conn = Connection(port)
                if began >= measure_from:
                    latencies[index].append(time.perf_counter() - began)
                    errors[index] += 0 if ok else 1
        finally:
            conn.sock.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    while time.perf_counter() < measure_from:
        time.sleep(0.005)
    cpu_before = server_cpu_seconds(server_pid) if server_pid else None
    for thread in threads:
        thread.join(timeout=seconds + warmup + 120)
    cpu_after = server_cpu_seconds(server_pid) if server_pid else None
    # Requests still in flight at the end count for latency; throughput uses the measured window.
    all_latencies = sorted(x for per_client in latencies for x in per_client)
    done = len(all_latencies)

    def percentile(q: float) -> float | None:
        if not done:
            return None
        return round(all_latencies[min(done - 1, int(q * done))] * 1000, 2)

    result = {"p50_ms": percentile(0.5), "p99_ms": percentile(0.99), "throughput_per_s": round(done / seconds, 1),
              "requests": done, "errors": sum(errors)}
    if cpu_before is not None and cpu_after is not None and done:
        result["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / done, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per endpoint and client level")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", default="1,20", help="comma-separated concurrency levels")
    parser.add_argument("--db", help="SQLite file to keep and reuse (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=900.0, help="hard bound on the whole run (s)")
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    load_before = os.getloadavg()[0]

    def give_up(_signum, _frame):
        raise SystemExit(f"bench_latency: gave up after {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(int(args.timeout))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db_path = Path(args.db).resolve() if args.db else workdir / "bench.db"
        url = f"sqlite:///{db_path}"
        setup = build_database(url, args.leads, args.seed)
        port = free_port()
        server = start_server(url, port, workdir)
        results: dict[str, dict] = {}
        try:
            wait_ready(port, server)
            key, lead_ids = setup.pop("key"), setup.pop("lead_ids")
            # The cached GET reads leads that surely have a stored prediction.
            cached_ids = lead_ids[:: max(1, len(lead_ids) // CACHED_LEADS)][:CACHED_LEADS]
            with Connection(port) as conn:
                for lead_id in cached_ids:
                    conn.request(*make_request("predict_model", key, lead_id))
            for clients in levels:
                level = {}
                for endpoint in ENDPOINTS:
                    ids = cached_ids if endpoint == "cached_get" else lead_ids
                    level[endpoint] = run_load(port, key, endpoint, ids, clients, args.seconds, args.warmup,
                                               server.pid)
                health = level["health"]
                for endpoint in ENDPOINTS[1:]:
                    row = level[endpoint]
                    if row["p50_ms"] and health["p50_ms"]:
                        row["p50_vs_health"] = round(row["p50_ms"] / health["p50_ms"], 2)
                    if health["throughput_per_s"]:
                        row["throughput_vs_health"] = round(row["throughput_per_s"] / health["throughput_per_s"], 3)
                results[str(clients)] = level
        finally:
            stop_server(server)
            signal.alarm(0)
    targets = {}
    if "1" in results:
        one = results["1"]
        targets["1_client_predict_p50_within_10x_health"] = all(
            (one[e].get("p50_vs_health") or 1e9) <= 10 for e in ("predict_model", "predict_rules"))
        targets["1_client_cached_get_p50_within_3x_health"] = (one["cached_get"].get("p50_vs_health") or 1e9) <= 3
    if "20" in results:
        twenty = results["20"]
        targets["20_clients_predict_throughput_at_least_0.2x_health"] = all(
            (twenty[e].get("throughput_vs_health") or 0) >= 0.2 for e in ("predict_model", "predict_rules"))
        targets["20_clients_zero_errors"] = all(row["errors"] == 0 for row in twenty.values())
    print(json.dumps({
        "benchmark": "latency", "leads": args.leads, "machine_cores": os.cpu_count(),
        "load_before": round(load_before, 2), "seconds_per_measurement": args.seconds, **setup,
        "results": results, "targets_met": targets,
    }))


if __name__ == "__main__":
    main()
