"""mesostack's speed, measured against baselines in the same run on the test bed.

    .venv/bin/python benchmarks/run.py [--stack examples/testbed.yaml] [--only B1,B4]
    .venv/bin/python benchmarks/run.py --only fixed      # the F rows: no engine needed

Needs the test bed (`bash scripts/test` sets it up): the engine, the local registry's images,
and ports 2181/5050/5051/8080 free on 127.0.0.x. Prints one table; ratios come from this run
only (the machine is shared and noisy, so absolute numbers move between runs); B2, B3 and
B5 give medians of three rounds. The F rows (a command's fixed cost, medians of 7) need no
engine: listeners stand where the command's first request goes and note its arrival. H1 and
B7 run on the test hosts (`scripts/hosts up`, its environment file in $MESOSTACK_TEST_HOSTS):
B7, a cold `up` through a rate-limited link, is described in benchmarks/cold.py.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cold
import requests
import yaml

from mesostack import probes
from mesostack.components import kind_of
from mesostack.config import parse
from mesostack.plan import ContainerSpec, Plan, Role, build, docker_run
from mesostack.runtime import Engine
from mesostack.waiting import SETTLE

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ENV = {**os.environ, "NO_COLOR": "1", "MESOSTACK_FILE": ""}


@dataclass
class Row:
    name: str
    what: str
    measured: str
    baseline: str
    result: str
    goal: str
    ok: bool


def cli(stack: Path, *args: str, check: bool = True) -> float:
    """Seconds one `mesostack` command takes, as a user runs it."""
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "mesostack", "-f", str(stack), *args],
                          capture_output=True, text=True, env=ENV, check=False)
    took = time.perf_counter() - start
    if check and done.returncode != 0:
        raise SystemExit(f"mesostack {' '.join(args)} failed:\n{done.stderr}")
    return took


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def plan_of(stack: Path) -> Plan:
    return build(parse(stack.read_text(), source=str(stack)), "127.0.0.1")


def remove(engine: Engine, plan: Plan) -> None:
    for spec in plan.specs:
        engine.remove(spec.name, grace=0)


def ready_every(spec: ContainerSpec, master: str, interval: float, deadline: float,
                leader: probes.LeaderState | None = None) -> None:
    probes.wait(kind_of(spec.role).probe(spec, master, leader), deadline=deadline,
                interval=interval)


def by_hand(engine: Engine, plan: Plan, *, interval: float) -> float:
    """The critical path: each stage started by hand once the previous one is ready; a
    stage's containers started at once (one after the other, twenty agents would add their
    twenty create-and-start times), each probed every `interval`, the agents and Marathon
    reading the master's state at most that often (not once per probe)."""
    master = plan.endpoints(Role.MASTER)
    start = time.perf_counter()
    deadline = time.monotonic() + 120
    for stage in plan.stages():
        leader = probes.LeaderState(master, ttl=interval)

        def one(spec: ContainerSpec, leader: probes.LeaderState = leader) -> None:
            engine.create_and_start(spec)
            ready_every(spec, master, interval, deadline, leader)

        threads = [threading.Thread(target=one, args=(s,)) for s in stage]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return time.perf_counter() - start


def as_script(plan: Plan, *, timeout: float = 120) -> float:
    """The tutorial as a script: each `docker run` line (pulling its image when the engine has
    none), then a readiness poll every second."""
    master = plan.endpoints(Role.MASTER)
    start = time.perf_counter()
    for spec in plan.specs:
        subprocess.run(shlex.split(docker_run(spec, show_secrets=True)), check=True,
                       capture_output=True)
        ready_every(spec, master, 1.0, time.monotonic() + timeout)
    return time.perf_counter() - start


def b1() -> Row:
    def help_() -> float:
        start = time.perf_counter()
        subprocess.run([str(Path(PYTHON).parent / "mesostack"), "--help"], capture_output=True,
                       check=True)
        return time.perf_counter() - start

    def click_() -> float:
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import click"], capture_output=True, check=True)
        return time.perf_counter() - start

    ours, base = median_of(10, help_), median_of(10, click_)
    return Row("B1", "`mesostack --help` cold start", f"{ours * 1000:.0f} ms",
               f"{base * 1000:.0f} ms (python -c 'import click')", f"{ours / base:.2f}x",
               "<= 1.5x", ours / base <= 1.5)


def b2(stack: Path, engine: Engine, *, name: str = "B2", repeat: int = 3) -> tuple[Row, float]:
    """Medians of `repeat` rounds, each round measuring `up` and its baselines one after the
    other (so a burst of load on the shared machine hits one round, not one side)."""
    plan = plan_of(stack)
    cli(stack, "down", "--grace", "0")
    ours_runs: list[float] = []
    critical_runs: list[float] = []
    script_runs: list[float] = []
    for _ in range(repeat):
        ours_runs.append(cli(stack, "up"))
        cli(stack, "down", "--grace", "0")
        critical_runs.append(by_hand(engine, plan, interval=0.02))
        remove(engine, plan)
        if name != "B5":
            script_runs.append(as_script(plan))
            remove(engine, plan)
    ours, critical = statistics.median(ours_runs), statistics.median(critical_runs)
    overhead = ours - critical
    if name == "B5":
        return Row(name, "", f"{ours:.2f} s", f"{critical:.2f} s", f"{overhead:+.2f} s", "",
                   True), overhead
    script = statistics.median(script_runs)
    ok = overhead <= 0.45 and ours / script <= 0.65
    return Row(name, "`up` to ready", f"{ours:.2f} s",
               f"critical path {critical:.2f} s; script {script:.2f} s",
               f"{overhead:+.2f} s; {ours / script:.2f}x the script",
               "<= +0.45 s and <= 0.65x", ok), overhead


def b3(stack: Path, engine: Engine, *, repeat: int = 3) -> Row:
    plan = plan_of(stack)
    ours_runs: list[float] = []
    floor_runs: list[float] = []
    for _ in range(repeat):
        cli(stack, "up")
        ours_runs.append(cli(stack, "down"))
        cli(stack, "up")
        start = time.perf_counter()
        subprocess.run(["docker", "rm", "-f", *(s.name for s in plan.specs)], check=True,
                       capture_output=True)
        floor_runs.append(time.perf_counter() - start)
    ours, floor = statistics.median(ours_runs), statistics.median(floor_runs)
    # no Python client can come within 1.5x of the CLI's 0.2 s: the goal is an overhead
    return Row("B3", "`down`, single-node stack", f"{ours:.2f} s",
               f"{floor:.2f} s (docker rm -f)", f"{ours - floor:+.2f} s ({ours / floor:.2f}x)",
               "<= rm -f + 0.30 s", ours - floor <= 0.30)


def c1(stack: Path, tmp: Path) -> Row:
    """A TAB after `mesostack task-logs `: the running stack's app ids, asked of its Marathon."""
    cli(stack, "up")
    app = tmp / "c1.json"
    app.write_text(json.dumps({"id": "c1", "cmd": "sleep 600", "cpus": 0.01, "mem": 8}))
    cli(stack, "deploy", str(app))
    env = {**ENV, "MESOSTACK_FILE": str(stack), "_MESOSTACK_COMPLETE": "bash_complete",
           "COMP_WORDS": "mesostack task-logs ", "COMP_CWORD": "2"}
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        done = subprocess.run([PYTHON, "-m", "mesostack"], capture_output=True, text=True,
                              env=env, check=True)
        runs.append(time.perf_counter() - start)
        if "plain,c1" not in done.stdout:
            raise SystemExit(f"completion offered {done.stdout!r}, not c1")
    cli(stack, "down", "--grace", "0")
    took = statistics.median(runs)
    return Row("C1", "completion of `task-logs APP_ID` (the stack's apps)", f"{took:.2f} s",
               "median of 7", f"{took:.2f} s", "<= 0.5 s", took <= 0.5)


def b4(stack: Path, tmp: Path) -> Row:
    cli(stack, "up")
    success: dict[str, float] = {}
    attached = threading.Event()

    def listen() -> None:
        with requests.get("http://127.0.0.1:8080/v2/events", stream=True, timeout=(2, 300),
                          headers={"Accept": "text/event-stream"}) as answer:
            attached.set()
            for line in answer.iter_lines(chunk_size=1):
                if line.startswith(b"data:"):
                    event = json.loads(line[5:])
                    if event.get("eventType") == "deployment_success":
                        success[event["id"]] = time.perf_counter()

    threading.Thread(target=listen, daemon=True).start()
    attached.wait(10)
    lags = []
    for index in range(10):
        app = tmp / f"b4-{index}.json"
        app.write_text(json.dumps({"id": f"b4-{index}", "cmd": "sleep 600", "cpus": 0.01,
                                   "mem": 8, "instances": 1}))
        done = subprocess.run([PYTHON, "-m", "mesostack", "-f", str(stack), "deploy", str(app)],
                              capture_output=True, text=True, env=ENV, check=True)
        returned = time.perf_counter()
        deployment = done.stderr.split("(deployment ", 1)[1].split(")", 1)[0]
        time.sleep(0.05)
        if deployment in success:
            lags.append(returned - success[deployment] - SETTLE)
    cli(stack, "down", "--grace", "0")
    lag = statistics.median(lags) if lags else float("inf")
    return Row("B4", f"`deploy`: return after deployment_success + the {SETTLE:g} s settle window",
               f"{lag * 1000:.0f} ms",
               f"median of {len(lags)} deploys", f"{lag * 1000:.0f} ms", "<= 100 ms",
               lag <= 0.1)


def with_agents(stack: Path, count: int, tmp: Path) -> Path:
    config = yaml.safe_load(stack.read_text())
    config.pop("host_ip", None)
    config["name"] = f"{config.get('name', 'mesostack')}-agents"
    config["hosts"] = [{"name": f"a{i}", "ip": f"127.0.0.{i}"} for i in range(1, count + 1)]
    for role in ("zookeeper", "master", "marathon"):
        config.setdefault(role, {})["on"] = ["a1"]
    config.setdefault("slave", {})["on"] = [f"a{i}" for i in range(1, count + 1)]
    path = tmp / "agents.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def b6(stack: Path) -> Row:
    cli(stack, "up")
    ours = median_of(5, lambda: cli(stack, "up"))
    status = median_of(5, lambda: cli(stack, "status"))
    cli(stack, "down", "--grace", "0")
    return Row("B6", "`up` on an unchanged running stack", f"{ours:.2f} s",
               f"{status:.2f} s (mesostack status)", f"{ours / status:.2f}x", "<= 1.5x",
               ours / status <= 1.5)


def host_bed() -> Any:
    """The test hosts named by $MESOSTACK_TEST_HOSTS (tests/hostbed.py's HostBed)."""
    env_file = Path(os.environ.get("MESOSTACK_TEST_HOSTS", "/nonexistent"))
    if not env_file.is_file():
        raise SystemExit("benchmarks: H1 and B7 need the test hosts: `bash scripts/hosts up`, "
                         "then MESOSTACK_TEST_HOSTS=<the file it prints>")
    sys.path.insert(0, str(ROOT / "tests"))
    from hostbed import HostBed

    return HostBed(env_file)


def h1(tmp: Path) -> Row:
    """B6 on the test bed's three hosts (`scripts/hosts`; its environment file named by
    $MESOSTACK_TEST_HOSTS): each command run in the client namespace."""
    bed = host_bed()
    stack = bed.stack(tmp, "modern")

    def timed(*args: str) -> float:
        done, took = stack.timed(*args)
        if done.returncode != 0:
            raise SystemExit(f"H1: mesostack {' '.join(args)} failed: {done.stderr.strip()}")
        return took

    try:
        timed("up")
        ours = median_of(5, lambda: timed("up"))
        status = median_of(5, lambda: timed("status"))
    finally:
        stack.cli("down")
    return Row("H1", "`up` on an unchanged running stack on three hosts (ssh, unix, tls)",
               f"{ours:.2f} s", f"{status:.2f} s (mesostack status)", f"{ours / status:.2f}x",
               "<= 1.5x", ours / status <= 1.5)


def b7(tmp: Path, *, rate: str, rounds: int) -> Row:
    """A cold `up` on node2 of the test hosts through a `rate` link (benchmarks/cold.py)."""
    bed = host_bed()
    images = cold.heavy_images(lambda line: print(line, file=sys.stderr))
    stack = cold.stack_file(tmp, bed.env, images)
    bench = cold.ColdBench(stack, bed.socket(cold.HOST), bed.hosts, bed.in_client,
                           [PYTHON, "-m", "mesostack"], [PYTHON, __file__, "--script-round"],
                           images)
    bed.hosts("limit", cold.HOST, rate)
    try:
        measured = bench.rounds(rounds)
    finally:
        bed.hosts("restore")
        bed.hosts("wipe", cold.HOST)  # 1 GB of padding off its image cache
    over = measured.cold - measured.floor - measured.warm
    return Row("B7", f"cold `up` through a {rate} tbf link ({images.summary()}; "
               f"{rounds} rounds)", f"{measured.cold:.1f} s",
               f"floor {measured.floor:.1f} s (4 pulls at once) + `up` {measured.warm:.1f} s; "
               f"script {measured.script:.1f} s",
               f"{over:+.1f} s over floor + `up`; "
               f"{measured.cold / measured.script:.2f}x the script",
               "<= floor + `up` + 1 s", over <= 1.0)


# --- F: the fixed cost of a command ------------------------------------------------------------

# What each command's path needs before its first request (and, where it draws one, its table),
# imported by the floor's interpreter: docker-py as mesostack loads it, without paramiko;
# pydantic with what it loads to validate at all, by one model of one field (`import pydantic`
# alone loads a lazy shell: its schema builder, validator and plugin lookup load with a model).
DOCKER = "import sys; sys.modules['paramiko'] = None; import docker; del sys.modules['paramiko']"
PYDANTIC = ("import os; os.environ.setdefault('PYDANTIC_DISABLE_PLUGINS', '__all__')\n"
            "from pydantic import BaseModel, Field\n"
            "class One(BaseModel):\n    port: int = Field(1, ge=1)\n"
            "One.model_validate({'port': 2})")
FLOOR_IMPORTS = {
    "status": ("click", "yaml", PYDANTIC, "requests", DOCKER, "rich.table"),
    "down": ("click", "yaml", PYDANTIC, "requests", DOCKER),
    "ls": ("click", "yaml", PYDANTIC, "requests", DOCKER, "rich.table"),
    "apps": ("click", "yaml", PYDANTIC, "requests", DOCKER, "rich.table"),
    "deploy --dry-run": ("click", "yaml", PYDANTIC, "json"),
}
FIXED_ARGS = {
    "status": ["status"], "down": ["down"], "ls": ["ls"], "apps": ["apps"],
    "deploy --dry-run": ["deploy", "--dry-run", str(ROOT / "examples" / "basic-0.json")],
}


class Listener:
    """A socket where a command's first request goes (an engine's unix socket, Marathon's
    port): it notes when the first connection arrives and closes every one at once (only the
    time to the first request counts; the command then fails as with an engine gone)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.first: float | None = None
        self.arrived = threading.Event()
        sock.listen(64)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.first is None:
                self.first = time.perf_counter()
                self.arrived.set()
            conn.close()

    def reset(self) -> None:
        self.first = None
        self.arrived.clear()

    def close(self) -> None:
        self.sock.close()


def unix_listener(path: Path) -> Listener:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return Listener(sock)


def tcp_listener() -> tuple[Listener, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return Listener(sock), sock.getsockname()[1]


def first_request(argv: list[str], env: dict[str, str], listener: Listener | None,
                  cwd: Path) -> float:
    """Seconds from starting `argv` to the listener's first accept (None: to its exit)."""
    if listener is not None:
        listener.reset()
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    _, err = child.communicate(timeout=60)
    if listener is None:
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{err}")
        return time.perf_counter() - start
    if not listener.arrived.wait(5) or listener.first is None:
        raise SystemExit(f"{' '.join(argv)} made no request:\n{err}")
    return listener.first - start


def floor_code(command: str, target: str | int | None) -> str:
    """The floor's program: the command's libraries, then one connection to its listener."""
    lines = [part if part.startswith(("import", "from")) else f"import {part}"
             for part in FLOOR_IMPORTS[command]]
    lines.append("import socket")
    if isinstance(target, str):
        lines.append(f"s = socket.socket(socket.AF_UNIX); s.connect({target!r}); s.close()")
    elif isinstance(target, int):
        lines.append(f"socket.create_connection(('127.0.0.1', {target})).close()")
    return "\n".join(lines)


def fixed_stack(tmp: Path, marathon_port: int) -> Path:
    """The test bed's stack, named apart, its Marathon on the listener's port."""
    config = yaml.safe_load((ROOT / "examples" / "testbed.yaml").read_text())
    config["name"] = "fixedcost"
    config["marathon"]["port"] = marathon_port
    path = tmp / "fixed.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def fixed(tmp: Path, runs: int = 7) -> list[Row]:
    """F1-F5: start-up to the first request (or to the exit, for a dry run), against the floor
    of the same command's libraries. `apps` asks the engine where the stack's Marathon runs
    first (refused here at once, so it takes the stack file's address); its floor connects to
    Marathon only. Each round runs every command and floor once, one after the other, so that
    a burst of load on the shared machine hits a round, not one side."""
    engine_path = tmp / "engine.sock"
    engine = unix_listener(engine_path)
    marathon, port = tcp_listener()
    stack = fixed_stack(tmp, port)
    env = {k: v for k, v in ENV.items()
           if not k.startswith(("DOCKER_", "MARATHON_")) and k != "MESOSTACK_HOST_IP"}
    env["DOCKER_HOST"] = f"unix://{engine_path}"
    ours: dict[str, list[float]] = {c: [] for c in FIXED_ARGS}
    floor: dict[str, list[float]] = {c: [] for c in FIXED_ARGS}
    try:
        for _ in range(runs):
            for command, args in FIXED_ARGS.items():
                listener = {"apps": marathon, "deploy --dry-run": None}.get(command, engine)
                target = {"apps": port, "deploy --dry-run": None}.get(command, str(engine_path))
                ours[command].append(first_request(
                    [PYTHON, "-m", "mesostack", "-f", str(stack), *args], env, listener, tmp))
                floor[command].append(first_request(
                    [PYTHON, "-c", floor_code(command, target)], env, listener, tmp))
    finally:
        engine.close()
        marathon.close()
    rows = []
    for index, command in enumerate(FIXED_ARGS, start=1):
        took, base = statistics.median(ours[command]), statistics.median(floor[command])
        until = {"deploy --dry-run": "exit", "apps": "first request to Marathon"}.get(
            command, "first request")
        rows.append(Row(f"F{index}", f"`{command}`: start to {until}", f"{took * 1000:.0f} ms",
                        f"{base * 1000:.0f} ms (its libraries alone)", f"{took / base:.2f}x",
                        "<= 0.20 s and <= 1.3x", took <= 0.2 and took / base <= 1.3))
    return rows


def table(rows: Iterable[Row]) -> str:
    header = ("bench", "what", "mesostack", "baseline", "result", "goal", "met")
    body = [(r.name, r.what, r.measured, r.baseline, r.result, r.goal, "yes" if r.ok else "NO")
            for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *body]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default=str(ROOT / "examples" / "testbed.yaml"))
    parser.add_argument("--only", default="B1,B2,B3,B4,B5,B6,C1,fixed",
                        help="rows to run, comma-separated; `fixed`: the F rows; H1 and B7 (the "
                        "test hosts, `scripts/hosts up`, named by $MESOSTACK_TEST_HOSTS) on "
                        "request")
    parser.add_argument("--rate", default="100mbit", help="B7's link (a tc rate)")
    parser.add_argument("--rounds", type=int, default=3, help="B7's rounds (medians)")
    parser.add_argument("--script-round", metavar="STACK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.script_round:  # B7's baseline, run in the client namespace: its seconds
        print(f"{as_script(plan_of(Path(args.script_round)), timeout=600):.3f}")
        return 0
    stack = Path(args.stack)
    only = set(args.only.split(","))
    # An installed package runs from bytecode compiled at install time. With
    # PYTHONDONTWRITEBYTECODE set (as on the test bed) an editable install would compile
    # mesostack's sources anew in every command measured (~0.1 s each): compile them once here.
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    engine = Engine.connect() if only - {"B1", "fixed", "H1", "B7"} else None
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        if "fixed" in only:
            rows.extend(fixed(tmp))
        if "B1" in only:
            rows.append(b1())
        single = 0.0
        if "B2" in only or "B5" in only:
            row, single = b2(stack, engine)
            if "B2" in only:
                rows.append(row)
        if "B3" in only:
            rows.append(b3(stack, engine))
        if "B4" in only:
            rows.append(b4(stack, tmp))
        if "B5" in only:
            _, overhead = b2(with_agents(stack, 20, tmp), engine, name="B5")
            # Overheads near zero make a ratio meaningless (a negative one when `up` beats the
            # critical path): then the goal reads as "no more than 0.1 s above the single".
            ratio = f"{overhead / single:.2f}x" if single > 0.1 else "n/a"
            rows.append(Row("B5", "`up` with 20 agents: overhead", f"{overhead:+.2f} s",
                            f"single agent {single:+.2f} s", ratio, "<= 1.5x",
                            overhead <= max(1.5 * single, single + 0.1)))
        if "B6" in only:
            rows.append(b6(stack))
        if "C1" in only:
            rows.append(c1(stack, tmp))
        if "H1" in only:
            rows.append(h1(tmp))
        if "B7" in only:
            rows.append(b7(tmp, rate=args.rate, rounds=args.rounds))
    docker = f"Docker {engine.facts().server_version}" if engine else "no engine used"
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}, Python "
          f"{platform.python_version()}, {docker}")
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
