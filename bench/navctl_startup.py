"""navctl start-up benchmark: wall time of whole navctl commands, the real kubectl's
beside them, against one private ``navarch server`` on 127.0.0.1.

    uv run python bench/navctl_startup.py [--quick] [--runs N]    (or: make bench)

Each command is one process, timed from spawn to exit, run N times (navctl and kubectl
alternating, so both see the same machine load); median and p90 are printed. Before
timing, each command runs once untimed: Python writes its bytecode cache then (into a
private PYTHONPYCACHEPREFIX, so nothing is written into the environment), and kubectl
its discovery cache (a private --cache-dir), as on any machine after the first run.
The server holds PODS pods (Pending: no scheduler runs), so ``get pods`` prints a table.

Also shown, not targets: the same navctl commands with no bytecode cache at all
(PYTHONDONTWRITEBYTECODE=1 and an empty cache prefix: every module compiled from
source on every run), which is how the issue's 1.2 s was measured in this project's
sessions, and ``navctl completion bash`` (the script is static: pressing TAB runs no
navctl at all, so completion is instant whatever this takes).

Targets (issue 21 item 8): ``navctl version`` <= 0.15 s and ``navctl get pods`` <= 0.4 s
(medians, with a bytecode cache).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from targets import Target, format_ratio, ratio, report

from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess

PODS = 20
TIMEOUT = 60.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def navctl_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "navctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "navarch.cli.navctl"]


def run_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, timeout=TIMEOUT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}: {result.stderr.decode()[-500:]}"
        )
    return elapsed


def timed(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int
) -> dict[str, list[float]]:
    """Every command once untimed (caches), then ``runs`` rounds, each command once per
    round in turn."""
    for command, env in commands.values():
        run_once(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, env) in commands.items():
            times[name].append(run_once(command, env))
    return times


async def add_pods(kubeconfig: Path, count: int) -> None:
    async with Client.from_kubeconfig(kubeconfig) as client:
        for i in range(count):
            await client.pods.create(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:1"}]},
                },
                namespace="default",
            )


def figure(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:6.0f} / {percentile(values, 90) * 1000:4.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke run)")
    parser.add_argument("--runs", type=int, default=0, help="runs per command (default 30)")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 30)
    kubectl = shutil.which("kubectl")
    navctl = navctl_command()
    with tempfile.TemporaryDirectory(prefix="navarch-bench-navctl-") as scratch:
        root = Path(scratch)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NAVARCH_"))}
        with ApiServerProcess(root / "server", settings={"log": {"level": "WARNING"}}) as server:
            asyncio.run(add_pods(server.kubeconfig, PODS))
            base["KUBECONFIG"] = str(server.kubeconfig)
            warm = {**base, "PYTHONPYCACHEPREFIX": str(root / "pycache")}
            cold = {
                **base,
                "PYTHONPYCACHEPREFIX": str(root / "empty-pycache"),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            cases = [
                ("version --client", ["version", "--client"]),
                ("version", ["version"]),
                ("get pods", ["get", "pods"]),
                ("--help", ["--help"]),
            ]
            commands: dict[str, tuple[list[str], dict[str, str]]] = {}
            for name, words in cases:
                commands[f"navctl {name}"] = ([*navctl, *words], warm)
                if kubectl:
                    cache = ["--cache-dir", str(root / "kubectl-cache")]
                    commands[f"kubectl {name}"] = ([kubectl, *cache, *words], base)
            commands["navctl completion bash"] = ([*navctl, "completion", "bash"], warm)
            print(f"timing {len(commands)} commands x {runs} runs ...", file=sys.stderr)
            times = timed(commands, runs)
            cold_cases = {f"navctl {name}": ([*navctl, *words], cold) for name, words in cases[1:3]}
            cold_times = timed(cold_cases, max(3, runs // 5))

    print()
    print(
        f"navctl start-up benchmark ({'quick' if args.quick else 'full'}): {runs} runs per "
        f"command, {os.cpu_count()} cores, private navarch server on 127.0.0.1 with "
        f"{PODS} pods"
    )
    print()
    print(f"{'command':<24}  {'navctl ms (median / p90)':>24}  {'kubectl ms':>14}  kubectl/navctl")
    for name, _ in [*cases, ("completion bash", [])]:
        ours = times[f"navctl {name}"]
        theirs = times.get(f"kubectl {name}")
        peer = figure(theirs) if theirs else "n/a"
        speed = (
            format_ratio(ratio(statistics.median(theirs), statistics.median(ours)))
            if theirs
            else "n/a"
        )
        print(f"{name:<24}  {figure(ours):>24}  {peer:>14}  {speed}")
    print()
    print("Without any bytecode cache (every module compiled on every run; not a target):")
    for name, values in cold_times.items():
        print(f"  {name:<22}  {figure(values)} ms")
    if not kubectl:
        print("\nkubectl is not installed: no peer figures.")
    report(
        [
            Target(
                "navctl version (asks the server)",
                statistics.median(times["navctl version"]),
                "<=",
                0.15,
                " s",
            ),
            Target("navctl get pods", statistics.median(times["navctl get pods"]), "<=", 0.4, " s"),
        ],
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
