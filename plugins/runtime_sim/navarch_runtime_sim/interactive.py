"""A shell reading its commands from stdin: a simulated container whose command is a
bare ``sh`` and whose stdin is open (what ``kubectl debug -it … -- sh`` and ``kubectl
run -i`` start). Each complete line is acted out as the simulator acts out ``sh -c``
(:mod:`navarch_runtime_sim.shell`), with ``ps`` besides, listing the processes the
shell sees (its pid namespace: the target container's with ``kubectl debug
--target``). ``exit`` ends it, and so does the end of its input (with the last
command's status), as a real shell. A program the simulator does not act out prints
``sh: X: not found`` and gives 127."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence

from navarch.runtime.types import STDERR
from navarch_runtime_sim import shell
from navarch_runtime_sim.mounts import MountedFiles


class InteractiveShell:
    """The lines waiting to run, and the status of the last one that ran."""

    def __init__(
        self,
        write: shell.Write,
        *,
        env: Mapping[str, str],
        workdir: str,
        lookup: shell.Lookup,
        processes: Callable[[], Sequence[str]],
        files: MountedFiles | None = None,
    ):
        self._write, self._env, self._workdir = write, env, workdir
        self._files = files
        self._lookup, self._processes = lookup, processes
        self._partial = b""
        self._lines: deque[str] = deque()
        self.status = 0
        self.end_of_input = False

    def feed(self, data: bytes) -> None:
        """Input arrived: whole lines are queued, a last partial line waits for more."""
        text = self._partial + data.replace(b"\r", b"\n")
        *lines, self._partial = text.split(b"\n")
        self._lines.extend(line.decode(errors="replace") for line in lines)

    def close(self) -> None:
        """The input ended: a partial last line still runs, then the shell ends."""
        if self._partial:
            self._lines.append(self._partial.decode(errors="replace"))
            self._partial = b""
        self.end_of_input = True

    def next_process(self) -> shell.Process | None:
        """The next line as a process to run; None when no line is waiting."""
        while self._lines:
            line = self._lines.popleft()
            try:
                commands = shell.parse(line, self._env)
                shell.check_files(commands, self._files or MountedFiles(()))
            except shell.Opaque as exc:
                self._write(STDERR, f"sh: the simulator does not act out {exc}\n".encode())
                self.status = 2
                continue
            if not commands:
                continue
            return shell.Process(
                commands,
                self._write,
                env=self._env,
                workdir=self._workdir,
                lookup=self._lookup,
                processes=self._processes,
                files=self._files,
            )
        return None
