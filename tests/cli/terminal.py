"""navctl run on a pseudo-terminal, as a person at a terminal runs it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

DEADLINE = 120.0


def navctl_on_a_terminal(
    kubeconfig: Path, *args: str, rows: int = 24, columns: int = 100, typed: bytes = b""
) -> tuple[int, str]:
    """navctl with a pseudo-terminal of ``rows`` x ``columns`` as its stdin, stdout and
    stderr, ``typed`` on its keyboard; its exit code and everything it wrote there."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    env.update(COLUMNS=str(columns), LINES=str(rows))
    process = subprocess.Popen(
        [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig", str(kubeconfig), *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    if typed:
        os.write(controller, typed)
    output = bytearray()
    deadline = time.monotonic() + DEADLINE
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every copy of the terminal is closed
                break
            if not chunk:
                break
            output += chunk
        else:
            raise AssertionError(f"navctl did not end: it wrote {bytes(output)!r}")
        code = process.wait(timeout=DEADLINE)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, output.decode(errors="replace")
