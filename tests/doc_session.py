"""Running a documentation page's shell commands as written (docs/tutorial.md,
docs/operations.md): a Terminal that stands for the user's, and the loop that runs a
page's lines in order, checking what each promises.

A page is written for a user at /var/lib/… with the default ports; the Terminal runs
every command unchanged except for where things live: /var/lib/ reads as a private
directory, NAVARCH_DATA_DIR and NAVARCH_API_PORT point `navarch` at a private data
directory and a free port, NAVARCH_RUNTIME_OPTIONS at the test's containerd. Lines are
run by bash in a directory that stands for the checkout (its examples/ and .venv/),
with the workspace's environment first on the PATH. Some lines are the terminal's
business and are acted out:

* ``make up`` — `navarch up` in the background (make's install steps are
  `make test`'s too, which runs these tests), waited on until its banner;
* ``export NAME=VALUE`` — kept for the lines after (each runs in a bash of its own);
* ``source .venv/bin/activate`` — the PATH has it already;
* ``… &`` — started in the background, its pid kept for ``kill -9 %N``;
* ``# → text`` — the output must show ``text`` (spaces collapsed); the command is
  tried again for a while when it does not yet (the cluster needs time), as a user
  would look again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from navarch.testing.daemon import free_port

ROOT = Path(__file__).parent.parent
PROMISE = "   # → "
RETRY_SECONDS = 180.0
BANNER_SECONDS = 240.0
COMMAND_SECONDS = 300.0


def page_commands(page: Path, first: str, last: str) -> list[tuple[str, str]]:
    """(command, promised output or "") for every line of the sh blocks between the
    headings ``first`` and ``last``, in order."""
    text = page.read_text()
    part = text[text.index(first) : text.index(last)]
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", part, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            command, _, promise = line.partition(PROMISE)
            command = command.split("   # ", 1)[0].strip()
            if command:
                found.append((command, promise.strip()))
    return found


def squeeze(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


class Terminal:
    """Where the page's commands run: bash from the checkout, the tutorial's
    environment, background jobs numbered as a shell numbers them."""

    def __init__(self, home: Path, containerd_socket: Path | None = None):
        self.home = home
        self.var_lib = home / "var-lib"
        self.data_dir = self.var_lib / "navarch"
        bin_dir = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        self.env |= {
            "PATH": f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}",
            "NAVARCH_DATA_DIR": str(self.data_dir),
            "NAVARCH_API_PORT": str(free_port()),
            # nothing answers on a missing socket: navarch up starts its own containerd
            "NAVARCH_RUNTIME_OPTIONS": '{"socket": "%s"}'
            % (containerd_socket or home / "no-containerd.sock"),
        }
        self.jobs: list[subprocess.Popen[bytes]] = []
        # the page runs in the checkout; here, a directory that looks like one (the
        # files the page writes, up.log and node-4.log, stay out of the real one)
        self.cwd = home / "checkout"
        self.cwd.mkdir(parents=True)
        for name in ("examples", ".venv"):
            (self.cwd / name).symlink_to(ROOT / name)

    def localise(self, command: str) -> str:
        return command.replace("/var/lib/", f"{self.var_lib}/")

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.localise(command)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )

    def background(self, command: str) -> subprocess.Popen[bytes]:
        """``command &``: exec'd by bash, so the job's pid is the command's own."""
        job = subprocess.Popen(
            ["bash", "-c", "exec " + self.localise(command)],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.jobs.append(job)
        return job

    def close(self) -> None:
        for job in self.jobs:
            if job.poll() is None:
                job.send_signal(signal.SIGTERM)
                try:
                    job.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    job.kill()
                    job.wait(timeout=30)


def run_page(terminal: Terminal, commands: list[tuple[str, str]]) -> None:
    """Run a page's commands in order, as the module's docstring says."""
    start = time.monotonic()
    for command, promise in commands:
        print(f"[{time.monotonic() - start:6.1f} s] {command}")
        if command == "source .venv/bin/activate":
            continue
        if command == "make up":
            command = "navarch up > up.log 2>&1 &"
        if command.endswith("&"):
            command = command[:-1].strip()
            terminal.background(command)
            if promise:  # a cluster: its banner, in the log the command writes to
                _wait_for_banner(terminal, terminal.cwd / "up.log", promise)
            continue
        if (exported := re.fullmatch(r"export (\w+)=(\S+)", command)) is not None:
            terminal.env[exported.group(1)] = terminal.localise(exported.group(2))
            continue
        if (killed := re.fullmatch(r"kill -9 %(\d+)", command)) is not None:
            job = _jobs_without_clusters(terminal)[int(killed.group(1)) - 1]
            job.send_signal(signal.SIGKILL)
            job.wait(timeout=30)
            continue
        _run_until_promised(terminal, command, promise)


def _jobs_without_clusters(terminal: Terminal) -> list[subprocess.Popen[bytes]]:
    """Background jobs as the page numbers them: the page starts `make up` in a
    terminal of its own, so clusters are not its jobs."""
    return [job for job in terminal.jobs if " up" not in " ".join(map(str, job.args))]


def _wait_for_banner(terminal: Terminal, log: Path, promise: str) -> None:
    deadline = time.monotonic() + BANNER_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if promise in text:
            return
        if terminal.jobs[-1].poll() is not None:
            pytest.fail(f"navarch up exited {terminal.jobs[-1].returncode}: {text[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"navarch up printed no {promise!r} in {BANNER_SECONDS:g} s")


def _run_until_promised(terminal: Terminal, command: str, promise: str) -> None:
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        result = terminal.run(command)
        output = squeeze(result.stdout + result.stderr)
        if result.returncode == 0 and squeeze(promise) in output:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{command!r} (exit {result.returncode}) never showed {promise!r}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        time.sleep(2)
