"""navctl starts quickly because it imports only what the verb it runs needs (issue 21
item 8). Time is measured by bench/navctl_startup.py, never here: these tests check
*what* a run imports, in a fresh interpreter, so that an eager import creeping back
(aiohttp, the object model, rich, loguru, pluggy) fails a test instead of a benchmark.

Also here: the verb -> module lookup that lets a run import one command module, and
the request path without aiohttp keeping the Client's behaviour (its retried
statuses, its hand-off to the Client for retries, its errors).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

import navarch
from navarch.cli.navctl import build_parser, commands, verb_of
from navarch.cli.navctl.session import Session
from navarch.client.errors import ApiException, NotFound
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.daemon import free_port

# Imported by no verb that does not use it. aiohttp (and yarl, multidict with it) is
# most of the old start-up time; the object model's loading, rich, pluggy, shtab and
# loguru are the rest of what the package __init__ files used to pull in.
NEVER = ("aiohttp", "yarl", "multidict", "rich", "pluggy", "navarch.client.client")
NO_MODEL = (*NEVER, "navarch.api.core_v1", "navarch.api.loading", "navarch.resources.core")
QUICK = (*NO_MODEL, "loguru", "shtab", "importlib.metadata")

_PROBE = """
import json, sys
from navarch.cli.navctl import main
code = main(json.loads(sys.argv[1]))
sys.stdout.flush()
print("\\nNAVCTL-RESULT " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def navctl_imports(*args: str) -> tuple[int, str, set[str]]:
    """Run navctl in a fresh interpreter: its exit code, output and imported modules."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out, _, tail = result.stdout.rpartition("\nNAVCTL-RESULT ")
    assert tail, f"navctl {' '.join(args)} did not finish: {result.stderr}"
    found = json.loads(tail)
    return found["code"], out + result.stderr, set(found["modules"])


def heavy(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(
    ("args", "forbidden"),
    [
        (("version", "--client"), QUICK),
        (("--help",), (*NO_MODEL, "loguru", "shtab")),
        (("get", "--help"), (*NO_MODEL, "loguru", "shtab")),
        (("completion", "bash"), (*NO_MODEL, "loguru")),
    ],
)
def test_verbs_without_a_server_import_nothing_heavy(args, forbidden):
    code, out, modules = navctl_imports(*args)
    assert code == 0, out
    assert "navctl" in out
    assert heavy(modules, forbidden) == []


def test_version_asks_the_server_without_aiohttp(api_server):
    code, out, modules = navctl_imports("version", "--kubeconfig", str(api_server.kubeconfig))
    assert code == 0, out
    assert "Server Version: v1." in out
    assert heavy(modules, QUICK) == []


def test_get_pods_reads_the_server_without_aiohttp(api_server):
    kubeconfig = str(api_server.kubeconfig)
    code, out, modules = navctl_imports("get", "namespaces", "--kubeconfig", kubeconfig)
    assert code == 0, out
    assert "kube-system" in out
    assert heavy(modules, (*NEVER, "loguru", "navarch.api.loading")) == []
    code, out, modules = navctl_imports("get", "pods", "--kubeconfig", kubeconfig)
    assert code == 0, out
    assert heavy(modules, (*NEVER, "loguru", "navarch.api.loading")) == []


# --- one command module per run ----------------------------------------------------------


def registered_verbs() -> dict[str, str]:
    """Every verb (and alias) each command module registers -> that module's name."""
    found = {}
    for info in pkgutil.iter_modules(commands.__path__):
        module = f"{commands.__name__}.{info.name}"
        parser = argparse.ArgumentParser()
        verbs = parser.add_subparsers()
        importlib.import_module(module).register(verbs)
        for verb in verbs.choices:
            assert verb not in found, f"{verb} is registered by {found[verb]} and {module}"
            found[verb] = module
    return found


def test_each_verb_is_found_in_the_module_that_registers_it():
    verbs = registered_verbs()
    assert {"get", "create", "label", "drain", "version"} <= set(verbs)
    assert {verb: commands.module_of(verb) for verb in verbs} == verbs
    assert commands.module_of("gte") is None
    assert commands.module_of("__init__") is None


def test_a_run_registers_its_verb_only_and_help_every_verb():
    assert set(build_parser("get")._subparsers._group_actions[0].choices) == {"get"}
    every = build_parser()._subparsers._group_actions[0].choices
    assert set(every) == set(registered_verbs())


@pytest.mark.parametrize(
    ("words", "verb"),
    [
        (["get", "pods", "-n", "x"], "get"),
        (["-n", "kube-system", "get", "pods"], "get"),
        (["--kubeconfig=/k", "--context", "version", "version"], "version"),
        (["--namesp", "get", "describe", "pod/web"], "describe"),  # argparse's abbreviations
        (["-nkube-system", "logs", "web"], "logs"),
        (["--request-timeout", "soon", "get", "pods"], None),  # the whole parser says why
        (["--help"], None),
        (["-h", "get"], None),  # the top-level help, of every verb
        ([], None),
    ],
)
def test_the_verb_is_read_past_the_global_flags(words, verb):
    assert verb_of(words) == verb


def test_a_misspelt_verb_still_lists_every_verb(capsys):
    assert navarch.cli.navctl.main(["gte", "pods"]) == 1
    err = capsys.readouterr().err
    assert "invalid choice: 'gte'" in err
    assert "'get'" in err and "'drain'" in err


# --- requests without aiohttp, with the Client's behaviour ----------------------------------


class Answers:
    """A plain-HTTP API server on 127.0.0.1 that answers from a script of statuses."""

    def __init__(self, statuses: list[int]):
        self.statuses = statuses
        self.seen: list[tuple[str, str, dict[str, str], str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        self.seen.append((request.method, request.path, dict(request.query), auth))
        status = self.statuses.pop(0) if self.statuses else 200
        if status < 400:
            return web.json_response({"kind": "Thing", "path": request.path}, status=status)
        body = {"kind": "Status", "code": status, "reason": "Scripted", "message": "scripted"}
        return web.json_response(body, status=status, headers={"Retry-After": "0"})


async def _session_against(answers: Answers, tmp_path: Path):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answers.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "secret-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return runner, Session(str(kubeconfig), None, None, 30.0)


async def test_an_answer_the_client_retries_is_handed_to_the_client(tmp_path):
    answers = Answers([503])
    runner, session = await _session_against(answers, tmp_path)
    try:
        got = await session.request("GET", "/api/v1/pods", params={"labelSelector": "a in (b)"})
        assert got == {"kind": "Thing", "path": "/api/v1/pods"}
        assert session._client is not None  # the second attempt was the Client's
        # Both attempts sent the same request: query, token.
        asked = ("GET", "/api/v1/pods", {"labelSelector": "a in (b)"}, "Bearer secret-token")
        assert answers.seen == [asked, asked]
    finally:
        await session.close()
        await runner.cleanup()


async def test_an_error_answer_is_raised_once_without_the_client(tmp_path):
    answers = Answers([404, 409])
    runner, session = await _session_against(answers, tmp_path)
    try:
        with pytest.raises(NotFound):
            await session.request("GET", "/api/v1/namespaces/default/pods/web")
        with pytest.raises(ApiException) as conflict:
            await session.request("PUT", "/api/v1/namespaces/default/pods/web", body={"a": 1})
        assert conflict.value.code == 409
        assert len(answers.seen) == 2
        assert session._client is None
    finally:
        await session.close()
        await runner.cleanup()


async def test_concurrent_requests_each_get_their_answer(tmp_path):
    runner, session = await _session_against(Answers([]), tmp_path)
    try:
        paths = [f"/api/v1/namespaces/n{i}/pods" for i in range(8)]
        got = await asyncio.gather(*(session.request("GET", path) for path in paths))
        assert [answer["path"] for answer in got] == paths
    finally:
        await session.close()
        await runner.cleanup()


async def test_no_server_is_reported_as_the_client_reports_it(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c"}}],
                "current-context": "x",
            }
        )
    )
    session = Session(str(kubeconfig), None, None, 5.0)
    try:
        with pytest.raises(ApiException) as unreachable:
            await session.request("GET", "/version")
        assert unreachable.value.code == 503
        assert unreachable.value.status["message"].startswith("cannot reach http://127.0.0.1:")
    finally:
        await session.close()


# --- what the package __init__ files no longer do at import --------------------------------


def test_navarch_logs_stay_off_until_configured_without_importing_loguru():
    probe = (
        "import sys, navarch\n"
        "assert 'loguru' not in sys.modules\n"
        "from loguru import logger\n"
        "exec('logger.warning(\"library-line\")', {'__name__': 'navarch.probe', 'logger': logger})\n"
        "logger.warning('program-line')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "program-line" in result.stderr
    assert "library-line" not in result.stderr


def test_version_is_the_installed_distributions():
    from importlib import metadata

    assert navarch.__version__ == metadata.version("navarch")


def test_lazy_exports_are_the_modules_names():
    import navarch.api
    import navarch.client
    from navarch.api import loading
    from navarch.client import kubeconfig

    assert navarch.client.load_kubeconfig is kubeconfig.load_kubeconfig
    assert navarch.api.load is loading.load
    assert navarch.api.validation.__name__ == "navarch.api.validation"  # submodules too
    assert "Client" in dir(navarch.client)
    with pytest.raises(AttributeError):
        navarch.client.NoSuchThing  # noqa: B018


def test_a_kubeconfig_ca_is_the_only_one_trusted(api_server):
    context = load_kubeconfig(api_server.kubeconfig).ssl_context()
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] == 1
