"""The few shell commands the simulator acts out, so a container's command gives the
logs and exit code a real one would (and the runtime conformance suite can check
the simulator honestly).

Understood, in ``sh -c SCRIPT [ARG0 ARGS…]`` or as the command itself: commands
separated by ``;``, newlines or a trailing ``&``; words quoted with ``'…'`` or
``"…"`` or escaped with ``\\``; ``$NAME``, ``${NAME}`` and ``$0``…``$9``; ``# comments``;
``>&2`` (``1>&2``) to write to stderr; ``> FILE`` and ``>> FILE`` to write a file
under one of the container's mounts (:mod:`navarch_runtime_sim.mounts`). Commands:
``echo [-n]``, ``sleep N`` (seconds, or ``infinity``), ``exit [N]``, ``true``,
``false``, ``:``, ``pwd``, ``env``, ``cat`` (empty input, or files under a mount),
``trap ACTION TERM`` (``''`` ignores SIGTERM, ``-`` resets), ``wait`` (for
``sleep N &``). A command the image does not hold prints ``sh: X: not found`` and
gives status 127. A file outside every mount, anything else (pipes, ``&&``, ``if``,
``$(…)``, other programs) makes the whole command *opaque*: the simulator does not
interpret it and the container runs until stopped (or as its configured behaviour
says).

A :class:`Process` runs until it blocks and says what it waits for (:class:`Sleep`,
:class:`Exit`); its owner schedules the rest. No task or thread per process.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from navarch.runtime.types import STDERR, STDOUT
from navarch_runtime_sim.mounts import FileError, MountedFiles

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELLS = frozenset({"sh", "ash"})
BUILTINS = frozenset(
    {"echo", "sleep", "exit", "true", "false", ":", "pwd", "env", "cat", "trap", "wait"}
)
# Words that start shell syntax the simulator does not act out.
_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
     "esac", "function", "{", "}", "!", "[[", "select"}
)  # fmt: skip
_TERM = frozenset({"TERM", "SIGTERM", "15"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# SIGTERM and SIGKILL as a shell reports them: 128 + the signal number.
EXIT_TERM, EXIT_KILL = 143, 137


class Opaque(Exception):
    """The command uses something the simulator does not act out."""


@attrs.frozen
class Command:
    words: tuple[str, ...]
    to_stderr: bool = False
    background: bool = False
    redirect: str = ""  # ``> FILE``: the command's output goes to FILE
    append: bool = False  # ``>> FILE``


@attrs.frozen
class Sleep:
    seconds: float  # math.inf: until a signal


@attrs.frozen
class Exit:
    code: int


Step = Sleep | Exit

# Does the image hold this program? True, False, or None when the simulator does not
# know the image's files (a pulled image).
Lookup = Callable[[str], bool | None]
Write = Callable[[str, bytes], None]


def parse(script: str, variables: Mapping[str, str]) -> list[Command]:
    """``script`` as commands, variables expanded; raises :class:`Opaque`."""
    return _Parser(script, variables).commands()


class _Parser:
    def __init__(self, script: str, variables: Mapping[str, str]):
        self.text, self.variables, self.at = script, variables, 0
        self.result: list[Command] = []
        self.words: list[str] = []
        self.word: list[str] | None = None  # None: no word started
        self.to_stderr = False
        # After ``>``/``>>``: the next word is the file (None: no redirection pending).
        self.redirect_append: bool | None = None
        self.redirect, self.append = "", False

    def commands(self) -> list[Command]:
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char in " \t":
                self._end_word()
                self.at += 1
            elif char in ";\n":
                self._end_command(background=False)
                self.at += 1
            elif char == "&":
                if text.startswith("&&", self.at):
                    raise Opaque("&&")
                self._end_command(background=True)
                self.at += 1
            elif char == "#" and self.word is None:
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end
            elif char == "'":
                end = text.find("'", self.at + 1)
                if end < 0:
                    raise Opaque("unterminated quote")
                self._append(text[self.at + 1 : end])
                self.at = end + 1
            elif char == '"':
                self._double_quoted()
            elif char == "\\":
                if text.startswith("\\\n", self.at):
                    self.at += 2
                    continue
                self._append(text[self.at + 1 : self.at + 2])
                self.at += 2
            elif char == "$":
                self._expand(quoted=False)
            elif self.word is None and re.match(r"1?>&2(?=[\s;&]|$)", text[self.at :]):
                self.to_stderr = True
                self.at = text.index("2", self.at) + 1
            elif char == ">":
                self._redirection()
            elif char in "|<(){}`":
                raise Opaque(char)
            else:
                self._append(char)
                self.at += 1
        self._end_command(background=False)
        return self.result

    def _append(self, chars: str) -> None:
        if self.word is None:
            self.word = []
        self.word.append(chars)

    def _redirection(self) -> None:
        """``>`` or ``>>`` (``1>``, and a word just before it ends there); other file
        descriptors, ``>&N`` and ``>|`` are not acted out."""
        text = self.text
        if self.word is not None:
            if "".join(self.word) != "1":
                raise Opaque(f"{''.join(self.word)}>")
            self.word = None  # ``1>``: standard output, as without the digit
        append = text.startswith(">>", self.at)
        self.at += 2 if append else 1
        if (self.at < len(text) and text[self.at] in "&|>") or self.redirect_append is not None:
            raise Opaque(">" + text[self.at : self.at + 1])
        self.redirect_append = append

    def _end_word(self) -> None:
        if self.word is not None:
            if self.redirect_append is not None:
                if self.redirect:
                    raise Opaque("a second redirection")
                self.redirect, self.append = "".join(self.word), self.redirect_append
                self.redirect_append = None
            else:
                self.words.append("".join(self.word))
            self.word = None

    def _end_command(self, background: bool) -> None:
        self._end_word()
        if self.redirect_append is not None:
            raise Opaque("> without a file")
        if not self.words:
            if background or self.to_stderr or self.redirect:
                raise Opaque("empty command")
            return
        first = self.words[0]
        if first in _KEYWORDS or ("=" in first and _NAME.match(first.split("=")[0])):
            raise Opaque(first)
        self.result.append(
            Command(tuple(self.words), self.to_stderr, background, self.redirect, self.append)
        )
        self.words, self.to_stderr, self.redirect, self.append = [], False, "", False

    def _double_quoted(self) -> None:
        self._append("")  # "" is a word, even empty
        self.at += 1
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char == '"':
                self.at += 1
                return
            if char == "\\" and self.at + 1 < len(text) and text[self.at + 1] in '"\\$`\n':
                if text[self.at + 1] != "\n":
                    self._append(text[self.at + 1])
                self.at += 2
            elif char == "$":
                self._expand(quoted=True)
            elif char == "`":
                raise Opaque("`")
            else:
                self._append(char)
                self.at += 1
        raise Opaque("unterminated quote")

    def _expand(self, quoted: bool) -> None:
        text, start = self.text, self.at + 1
        if text.startswith("{", start):
            end = text.find("}", start)
            name = text[start + 1 : end] if end > 0 else ""
            if not _NAME.fullmatch(name) and not name.isdigit():
                raise Opaque("${…}")
            self.at = end + 1
        elif start < len(text) and text[start].isdigit():
            name, self.at = text[start], start + 1
        elif match := _NAME.match(text, start):
            name, self.at = match.group(), match.end()
        elif start >= len(text) or text[start] in ' \t\n;&"':
            self._append("$")  # a lone dollar is itself
            self.at = start
            return
        else:
            raise Opaque(f"${text[start]}")  # $?, $$, $(…), $@ …
        value = self.variables.get(name, "")
        if value or quoted:
            self._append(value)


def program(
    argv: Sequence[str],
    env: Mapping[str, str],
    lookup: Lookup,
    files: MountedFiles | None = None,
) -> list[Command] | None:
    """The commands a container's (or an exec's) ``argv`` stands for; None when the
    simulator does not act it out (a file it names lies outside the container's
    mounts, ``files``). Whether ``argv[0]`` exists is the caller's check."""
    if not argv:
        return None
    name = argv[0].rsplit("/", 1)[-1]
    try:
        if name in SHELLS:
            if len(argv) >= 3 and argv[1] == "-c":
                positional = [*(argv[3:4] or [argv[0]]), *argv[4:]]
                variables = {**env, **{str(i): value for i, value in enumerate(positional)}}
                commands = parse(argv[2], variables)
            elif len(argv) == 1:
                commands = []  # a shell reading an empty input: it ends at once
            else:
                return None
        elif name in BUILTINS:
            commands = [Command((name, *argv[1:]))]
        else:
            return None
        _check(commands, lookup, files or MountedFiles(()))
    except Opaque:
        return None
    return commands


def _check(commands: Sequence[Command], lookup: Lookup, files: MountedFiles) -> None:
    for command in commands:
        name = command.words[0]
        if name not in BUILTINS and lookup(name) is not False:
            raise Opaque(name)  # a real program: cannot act it out
        if name == "trap" and len(command.words) >= 3 and command.words[1] not in ("", "-"):
            _check(parse(command.words[1], {}), lookup, files)
    check_files(commands, files)


def check_files(commands: Sequence[Command], files: MountedFiles) -> None:
    """Raise :class:`Opaque` for a file the commands name (``cat``'s, a redirection's)
    outside every mount: the image's own files are not simulated."""
    for command in commands:
        named = list(command.words[1:]) if command.words[0] == "cat" else []
        for path in [*named, *filter(None, [command.redirect])]:
            if not files.covers(path):
                raise Opaque(path)


def resolve(executable: str, env: Mapping[str, str], files: frozenset[str] | None) -> bool | None:
    """Whether ``executable`` is in the image (searched on ``PATH`` when it has no
    ``/``); None when the image's files are unknown."""
    if files is None:
        return None
    if "/" in executable:
        return "/" + executable.lstrip("/") in files
    directories = env.get("PATH", DEFAULT_PATH).split(":")
    return any(f"{directory.rstrip('/')}/{executable}" in files for directory in directories)


def not_found_message(executable: str) -> str:
    """What runc says when a container's program is missing."""
    if "/" in executable:
        return f'exec: "{executable}": stat {executable}: no such file or directory'
    return f'exec: "{executable}": executable file not found in $PATH'


class Process:
    """One acted-out process: ``run()`` executes until it blocks and returns the
    :data:`Step` it waits on; call ``run()`` again once a :class:`Sleep` is over."""

    __slots__ = (
        "_background_until",
        "_blocked",
        "_commands",
        "_env",
        "_files",
        "_lookup",
        "_next",
        "_pending_trap",
        "_processes",
        "_status",
        "_trap",
        "_workdir",
        "_write",
        "exited",
    )

    def __init__(
        self,
        commands: Sequence[Command],
        write: Write,
        *,
        env: Mapping[str, str],
        workdir: str,
        lookup: Lookup,
        processes: Callable[[], Sequence[str]] | None = None,
        files: MountedFiles | None = None,
    ):
        """``processes``: the command lines of the processes this one sees (its pid
        namespace, itself last), which makes ``ps`` a command it acts out (an
        interactive shell's). ``files``: what ``cat`` and ``>`` reach (the mounts)."""
        self._commands, self._write = list(commands), write
        self._files = files or MountedFiles(())
        self._processes = processes
        self.exited = False  # ended by ``exit`` (not by running out of commands)
        self._env, self._workdir, self._lookup = env, workdir or "/", lookup
        self._next, self._status = 0, 0
        self._trap: list[Command] | None = None  # None: default (SIGTERM ends it)
        self._blocked = ""  # "sleep" or "wait" while a Sleep is pending
        self._pending_trap = False
        self._background_until = 0.0  # monotonic time the last `sleep N &` ends

    def run(self) -> Step:
        self._blocked = ""
        if self._pending_trap:
            self._pending_trap = False
            self._commands[self._next : self._next] = self._trap or []
        while self._next < len(self._commands):
            command = self._commands[self._next]
            self._next += 1
            step = self._execute(command)
            if step is not None:
                return step
        return Exit(self._status)

    def terminate(self) -> Step | None:
        """SIGTERM. The new step, or None when nothing changes now (ignored, or a trap
        that runs once the current foreground ``sleep`` ends, as in a real shell)."""
        if self._trap is None:
            return Exit(EXIT_TERM)
        if not self._trap:
            return None
        self._pending_trap = True
        if self._blocked == "wait":  # `wait` returns at once for a trapped signal
            return self.run()
        return None

    def _out(self, command: Command, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        if command.redirect:
            try:
                self._files.write(command.redirect, data, append=True)
            except FileError as exc:
                self._write(STDERR, f"sh: write error: {exc.reason}\n".encode())
            return
        self._write(STDERR if command.to_stderr else STDOUT, data)

    def _execute(self, command: Command) -> Step | None:
        name, args = command.words[0], command.words[1:]
        if command.redirect:
            try:  # the shell opens (creates, truncates) the file before the command runs
                self._files.write(command.redirect, b"", append=command.append)
            except FileError as exc:
                self._write(STDERR, f"sh: can't create {exc.path}: {exc.reason}\n".encode())
                self._status = 1
                return None
        if command.background and name == "sleep":
            seconds = _seconds(args)
            if seconds is not None:
                end = time.monotonic() + seconds
                self._background_until = max(self._background_until, end)
            self._status = 0
            return None
        if name == "echo":
            newline = not (args and args[0] == "-n")
            self._out(command, " ".join(args[0 if newline else 1 :]) + ("\n" if newline else ""))
        elif name == "sleep":
            seconds = _seconds(args)
            if seconds is None:
                self._write(STDERR, f"sleep: invalid number {' '.join(args)!r}\n".encode())
                self._status = 1
                return None
            self._status, self._blocked = 0, "sleep"
            return Sleep(seconds)
        elif name == "exit":
            self.exited = True
            return Exit(int(args[0]) & 0xFF if args and args[0].isdigit() else self._status)
        elif name == "wait":
            self._status = 0
            remaining = self._background_until - time.monotonic()
            if remaining > 0:
                self._blocked = "wait"
                return Sleep(remaining)
            return None
        elif name == "trap":
            if len(args) >= 2 and _TERM.intersection(args[1:]):
                action = args[0]
                self._trap = None if action == "-" else parse(action, self._env) if action else []
        elif name == "pwd":
            self._out(command, self._workdir + "\n")
        elif name == "env":
            self._out(command, "".join(f"{key}={value}\n" for key, value in self._env.items()))
        elif name == "false":
            self._status = 1
            return None
        elif name == "cat" and args:
            self._status = 0
            for path in args:
                try:
                    self._out(command, self._files.read(path))
                except FileError as exc:
                    self._write(STDERR, f"cat: can't open '{path}': {exc.reason}\n".encode())
                    self._status = 1
            return None
        elif name == "ps" and self._processes is not None:
            self._out(command, ps_table(self._processes()))
        elif name not in BUILTINS:  # checked absent from the image by program()
            self._write(STDERR, f"sh: {name}: not found\n".encode())
            self._status = 127
            return None
        self._status = 0  # true, :, cat (empty input), and the above
        return None


def ps_table(command_lines: Sequence[str]) -> str:
    """busybox ``ps``'s table of these processes (pid 1 first)."""
    rows = ["PID   USER     TIME  COMMAND\n"]
    rows += [f"{pid:5d} root      0:00 {line}\n" for pid, line in enumerate(command_lines, 1)]
    return "".join(rows)


def _seconds(args: Sequence[str]) -> float | None:
    if len(args) != 1:
        return None
    if args[0] in ("inf", "infinity"):
        return math.inf
    try:
        seconds = float(args[0])
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
