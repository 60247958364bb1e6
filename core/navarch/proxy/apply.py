"""Applying the Service proxy's table: ``nft -f -`` in an asyncio subprocess, the
whole script one transaction (nft commits a file atomically: all of it or none), as
kube-proxy does through knftables. ``prefix`` runs nft somewhere else, say
``nsenter --net=/run/netns/<node> --`` in tests and benchmarks; by default nft acts
on the network namespace the agent runs in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import attrs

NFT_TIMEOUT_SECONDS = 60.0


class NftError(RuntimeError):
    """nft refused a script (its message says which line and why) or could not run."""


@attrs.frozen
class Nft:
    prefix: tuple[str, ...] = ()
    binary: str = "nft"

    async def run(self, args: Sequence[str], script: str | None = None) -> str:
        """Run nft with ``args`` (``script`` on stdin); its output, or NftError."""
        argv = [*self.prefix, self.binary, *args]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if script is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise NftError(f"cannot run {argv[0]}: {exc}") from exc
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(script.encode() if script is not None else None),
                NFT_TIMEOUT_SECONDS,
            )
        except RuntimeError as exc:
            # uvloop (MagicStack/uvloop#506): an nft that exited before its script was
            # written makes the write raise RuntimeError, not the BrokenPipeError
            # asyncio's communicate() ignores; a refusal to retry, not the agent's end
            if process.returncode is None:
                process.kill()
            await process.wait()
            raise NftError(
                f"{' '.join(argv[: len(self.prefix) + 2])}: exited ({process.returncode}) "
                f"before reading its input ({exc})"
            ) from exc
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            message = stderr.decode(errors="replace").strip() or f"exit {process.returncode}"
            raise NftError(f"{' '.join(argv[: len(self.prefix) + 2])}: {message}")
        return stdout.decode(errors="replace")

    async def apply(self, script: str) -> None:
        """Apply ``script`` as one transaction."""
        await self.run(["-f", "-"], script)

    async def tables(self) -> list[str]:
        """``family name`` of every table in the namespace."""
        listing = await self.run(["list", "tables"])
        return [line.removeprefix("table ").strip() for line in listing.splitlines() if line]
