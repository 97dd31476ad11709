"""Detached processes tracked by pid files that also record the command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A component of the local stack could not be provisioned."""


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if state in ("Z", "X"):
        _reap(pid)
        return None
    return [part.decode() for part in raw.split(b"\0") if part]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def write_pid(pid_file: Path, pid: int) -> None:
    cmdline = _proc_cmdline(pid)
    deadline = time.monotonic() + 2.0
    while cmdline == [] and time.monotonic() < deadline:
        # the parent resumes while the child is still inside exec(), before argv is visible
        time.sleep(0.01)
        cmdline = _proc_cmdline(pid)
    if not cmdline:
        raise StackError(f"process {pid} exited before its pid file {pid_file} was written")
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(json.dumps({"pid": pid, "cmdline": cmdline}))


def running_pid(pid_file: Path) -> int | None:
    """The recorded pid if that process is alive and still runs the recorded command."""
    try:
        record = json.loads(pid_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    pid = record.get("pid")
    if isinstance(pid, int) and _proc_cmdline(pid) == record.get("cmdline"):
        return pid
    return None


def start_detached(cmd: Sequence[str], *, log_file: Path, pid_file: Path,
                   env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
    try:
        write_pid(pid_file, proc.pid)
    except StackError as exc:
        raise StackError(f"{exc}; last lines of {log_file}:\n{tail(log_file)}") from None
    return proc.pid


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _proc_cmdline(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_pid_file(pid_file: Path, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
    """Signal the recorded process, escalate to SIGKILL after timeout; returns the pid stopped."""
    pid = running_pid(pid_file)
    if pid is not None:
        os.kill(pid, sig)
        if not wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5.0)
    pid_file.unlink(missing_ok=True)
    return pid


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
