"""A real GapLens server for tests and benchmarks: `gaplens serve` in its own process, as a user starts it.

Used by tests/test_browser.py, tests/test_durability.py and eval/bench_load.py.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GAPLENS = str(Path(sys.executable).parent / "gaplens")


def make_key(env: dict[str, str], tenant: str) -> str:
    """A new API key for ``tenant``, made with the CLI as an operator would."""
    made = subprocess.run(
        [GAPLENS, "keys", "create", "--tenant", tenant], env=env, capture_output=True, text=True
    )
    if made.returncode != 0:
        raise RuntimeError(f"gaplens keys create failed: {made.stderr}")
    return made.stdout.strip()


class GapLensServer:
    """`gaplens serve` on a free loopback port with ``env``, its output appended to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, start_seconds: float = 180) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        command = [GAPLENS, "serve", "--port", str(port)]
        with log.open("ab") as output:
            self.process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + start_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        self.process.kill()
        raise RuntimeError(f"the server did not answer /health in {start_seconds:.0f} s")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it, and wait for it to finish its running job."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)
