"""The agent's serving certificate: issued once, then loaded as it is."""

from __future__ import annotations

import subprocess
import sys


def test_a_restarted_agent_loads_its_certificate_without_cryptography(tmp_path):
    """9 MiB of an agent's memory: only issuing a certificate needs cryptography."""
    script = (
        "import sys; from pathlib import Path; "
        "from navarch.agent.servingcert import serving_context; "
        f"serving_context(Path({str(tmp_path)!r}), 'n1', ['127.0.0.1']); "
        "print('cryptography' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert first.stdout.strip() == "True", first.stderr  # issued: needed it
    assert again.stdout.strip() == "False", again.stderr  # loaded: did not
