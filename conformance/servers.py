"""Starts the real tritonserver (triton-harness/serve.sh) and the embedded model server
(modelserver/src/cli.ts) on free loopback ports, both in explicit model control mode with every
model loaded, and stops them. A server that exits or is not ready within the time limit is an
error carrying the end of its log: the conformance run fails, it never skips.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import tritonclient.grpc as grpcclient

ROOT = Path(__file__).resolve().parent.parent
EXPLICIT = ['--model-control-mode=explicit', '--load-model=*']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One started server: its gRPC address, process (own process group) and log file."""

    name: str
    address: str
    process: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors='replace')[-chars:]

    def wait_ready(self, timeout_s: float) -> None:
        client = grpcclient.InferenceServerClient(self.address)
        try:
            until = time.monotonic() + timeout_s
            while time.monotonic() < until:
                if self.process.poll() is not None:
                    raise RuntimeError(f'{self.name} exited ({self.process.returncode}) before it was ready:\n{self.log_tail()}')
                try:
                    if client.is_server_ready():
                        return
                except Exception:  # not listening yet
                    pass
                time.sleep(0.25)
            raise RuntimeError(f'{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}')
        finally:
            client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path, address: str) -> Server:
    log_path = log_dir / f'{name}.log'
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name, address, process, log_path)


def start_triton(repository: Path, log_dir: Path) -> Server:
    grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
    args = ['bash', str(ROOT / 'triton-harness/serve.sh'), f'--grpc-port={grpc_port}', f'--http-port={http_port}',
            f'--metrics-port={metrics_port}', *EXPLICIT]
    return _spawn('triton', args, {**os.environ, 'MODEL_REPOSITORY': str(repository)}, log_dir, f'127.0.0.1:{grpc_port}')


def start_embedded(repository: Path, log_dir: Path, root: Path = ROOT) -> Server:
    """The embedded server of the checkout at `root` (another one for a before/after comparison)."""
    port = free_port()
    tsx = ROOT / 'node_modules/.bin/tsx'
    args = [str(tsx), str(root / 'modelserver/src/cli.ts'), '--model-repository', str(repository), '--grpc-port', str(port),
            *[a for flag in EXPLICIT for a in flag.split('=', 1)]]
    return _spawn('embedded', args, dict(os.environ), log_dir, f'127.0.0.1:{port}')


def log_directory() -> Path:
    path = ROOT / '.cache/conformance'
    path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix='logs.', dir=path))
