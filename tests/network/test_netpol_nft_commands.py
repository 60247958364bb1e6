"""The policy enforcer's commands under the agent's event loop (uvloop): a command that
reads nothing (``sysctl`` turning br_netfilter on) and exits before the enforcer gets
to it again must not fail the agent. With a stdin pipe, uvloop's write to the closed
pipe raised RuntimeError (not the BrokenPipeError asyncio ignores), which ended every
``navarch up`` node's agent at start once the enforcer was wired in (seen by
tests/e2e/test_networking_e2e.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop

from navarch.netpol.ruleset import Nft


def test_a_command_that_exits_at_once_does_not_fail_under_uvloop(monkeypatch):
    spawn = asyncio.create_subprocess_exec

    async def exited_before_use(*argv: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        # the race made certain: the command has exited before its pipes are used
        process = await spawn(*argv, **kwargs)
        await process.wait()
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", exited_before_use)
    # "sysctl -q -w …" run as `true sysctl -q -w …`: exits at once, reading nothing
    nft = Nft(prefix=("true",))
    uvloop.run(nft.prepare())
    assert uvloop.run(nft.listing()) == ""


def test_a_failing_command_is_still_an_nft_error():
    from navarch.netpol.ruleset import NftError

    with pytest.raises(NftError, match="failed"):
        uvloop.run(Nft(prefix=("false",)).prepare())
