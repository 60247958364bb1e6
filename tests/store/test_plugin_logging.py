"""Store plugins log once an entry point configured logging, and stay silent as libraries.

Each case runs in a fresh interpreter: whether a plugin logs depends on the order of
its import and the logging set-up, which one test process can only do once.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lmdb_plugin_imported_after_configuration_logs_map_growth(tmp_path):
    # As `navarch server` does: configure logging, then load the plugins by entry point.
    result = _run(
        """
        import asyncio, sys
        from navarch.logs import configure_logging
        configure_logging("INFO", "text")
        assert "navarch_store_lmdb" not in sys.modules
        from navarch.plugins import build_plugin_manager
        build_plugin_manager()  # imports navarch_store_lmdb now
        from navarch_store_lmdb import LmdbOptions, LmdbStore

        async def main():
            store = LmdbStore.open(sys.argv[1], LmdbOptions(map_size=1 << 20))
            for i in range(40):
                await store.create(b"/k/%d" % i, b"x" * 100_000)
            await store.close()

        asyncio.run(main())
        """,
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "store opened" in result.stderr
    assert "grew the store's map" in result.stderr
    assert "navarch_store_lmdb" in result.stderr  # the logger's name is on the line


def test_etcd_plugin_imported_after_configuration_logs_reconnect_warnings():
    # No etcd listens on the port: the watch stream fails and the store warns, then
    # retries; the first warning is enough.
    result = _run(
        """
        import asyncio, io, sys
        from navarch.logs import configure_logging

        class Tee(io.TextIOBase):  # stderr that also remembers what was written
            def __init__(self, inner):
                self.inner, self.text = inner, ""
            def write(self, text):
                self.text += text
                return self.inner.write(text)
            def flush(self):
                self.inner.flush()

        sys.stderr = Tee(sys.stderr)
        configure_logging("INFO", "json")
        from navarch.plugins import build_plugin_manager
        build_plugin_manager()  # imports navarch_store_etcd now
        from navarch_store_etcd import EtcdOptions, EtcdStore

        async def main():
            store = EtcdStore.open(EtcdOptions(endpoints=(f"127.0.0.1:{sys.argv[1]}",)))
            watch = store.watch(b"/", from_revision=1)
            task = asyncio.ensure_future(watch.__anext__())
            for _ in range(600):  # until the first warning is written, 60 s at most
                if "watch stream lost" in sys.stderr.text:
                    break
                await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await watch.aclose()
            await store.close()

        asyncio.run(main())
        """,
        str(_closed_port()),
    )
    assert result.returncode == 0, result.stderr
    assert '"message":"watch stream lost; resuming"' in result.stderr
    assert '"level":"WARNING"' in result.stderr


def test_store_plugin_is_silent_as_a_library(tmp_path):
    result = _run(
        """
        import asyncio, sys
        from navarch_store_lmdb import LmdbOptions, LmdbStore

        async def main():
            store = LmdbStore.open(sys.argv[1], LmdbOptions(map_size=1 << 20))
            for i in range(40):
                await store.create(b"/k/%d" % i, b"x" * 100_000)
            await store.close()

        asyncio.run(main())
        """,
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_configuring_after_import_enables_the_plugin(tmp_path):
    result = _run(
        """
        import sys
        from navarch_store_lmdb import LmdbStore  # imported first: quiet for now
        from navarch.logs import configure_logging
        configure_logging("INFO", "text")
        LmdbStore.open(sys.argv[1])
        """,
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "store opened" in result.stderr
