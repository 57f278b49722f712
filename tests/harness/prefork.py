"""Run `python -m <module>` in a fresh process that skips the second or so of importing the Pulumi SDK and
its providers: a fork server imports them once per test session, and every run is a new fork of it.

Each run still gets a process of its own (the Pulumi runtime's settings, the mocks and the program's
`__main__` are process globals, and one run must not see another's), with its own environment, working
directory, stdin and captured stdout/stderr, like `subprocess.run`. Only third-party modules are
preloaded: the code under test (`components`, `__main__.py`, the harness's child side) is imported fresh
in every run, so an edit is always seen and no state of one run reaches the next.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

# What __main__.py and the mock runners import that is not ours (the costly part of a run's start).
PRELOAD = ["pulumi", "pulumi.runtime", "pulumi.dynamic", "pulumi_alicloud", "pulumi_alicloud.cs",
           "pulumi_alicloud.vpc", "pulumi_alicloud.slb", "pulumi_alicloud.oss", "pulumi_alicloud.ram",
           "pulumi_kubernetes", "pulumi_kubernetes.core.v1", "pulumi_kubernetes.apps.v1", "pulumi_tls",
           "pulumi_random", "google.protobuf.json_format", "grpc", "yaml", "requests"]

_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _context = context
    return _context


def _child(module: str, argv: list[str], stdin_text: str, env: Mapping[str, str], cwd: str,
           out_path: str, err_path: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for entry in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    out, err = open(out_path, "w"), open(err_path, "w")  # noqa: SIM115 - they live as long as the process
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), write_through=True)
    sys.stdin = io.StringIO(stdin_text)
    sys.argv = [module, *argv]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported like an interpreter's uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit handlers of the preloaded modules, no multiprocessing cleanup


def run_module(module: str, *argv: str, input: str, env: Mapping[str, str], cwd: Path,
               timeout: float) -> subprocess.CompletedProcess[str]:
    """`subprocess.run([sys.executable, "-m", module, *argv], input=…, capture_output=True, text=True, …)`."""
    with tempfile.TemporaryDirectory(prefix="prefork-") as tmp:
        out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        process = _forkserver().Process(
            target=_child, args=(module, list(argv), input, dict(env), str(cwd), out_path, err_path))
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired([sys.executable, "-m", module, *argv], timeout)
        stdout, stderr = Path(out_path).read_text(), Path(err_path).read_text()
    return subprocess.CompletedProcess([sys.executable, "-m", module, *argv], process.exitcode or 0, stdout, stderr)
