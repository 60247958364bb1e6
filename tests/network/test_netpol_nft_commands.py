"""The nft commands of the policy enforcer and the Service proxy under the agent's
event loop (uvloop). A command that reads nothing (``sysctl`` turning br_netfilter on)
and exits at once must not fail the agent: with a stdin pipe, uvloop's write to the
closed pipe raised RuntimeError (not the BrokenPipeError asyncio ignores), which ended
every ``navarch up`` node's agent at start once the enforcer was wired in; the same
race with input to write (an nft exiting before reading its script) ended a node's
agent from the proxy. Both seen by tests/e2e/test_networking_e2e.py."""

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


def test_a_command_that_exits_before_reading_its_input_is_an_nft_error(monkeypatch):
    """The same race with input to write (an nft that fails at start): the proxy's and
    the enforcer's transactions fail as NftError, which their loops retry, instead of
    ending the agent."""
    from navarch.netpol.ruleset import NftError as PolicyNftError
    from navarch.proxy.apply import Nft as ProxyNft
    from navarch.proxy.apply import NftError as ProxyNftError

    spawn = asyncio.create_subprocess_exec

    async def exited_before_use(*argv: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        process = await spawn(*argv, **kwargs)
        await process.wait()
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", exited_before_use)
    with pytest.raises(ProxyNftError, match="before reading its input"):
        uvloop.run(ProxyNft(binary="true").apply("add table ip t\n"))
    with pytest.raises(PolicyNftError, match="before reading its input"):
        uvloop.run(Nft(binary="true").apply("table inet navarch-policy {}\n"))
