"""A real Flink standalone session cluster, booted from a rendered configuration directory.

The distribution comes from the `apache-flink-libraries` package on PyPI (an sdist with `deps/`
for 1.x, a wheel with `pyflink/` for 2.x), fetched with `pip download` into `.cache/flink`
(`.ci/run` pre-fetches it). Processes are started the way Flink's own scripts start them:
JVM memory flags from `BashJavaUtils`, `env.java.opts.all` from the configuration file, then
`StandaloneSessionClusterEntrypoint` / `TaskManagerRunner` with `--configDir` and `-D` overrides
for hosts and ports only, so that everything else is exactly what the program rendered.

Use:
    with FlinkCluster(version="1.20", files=rendered_files, taskmanagers=1) as cluster:
        requests.get(cluster.rest_url + "/overview")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.harness import CACHE_DIR, free_port, missing

# The Flink releases the tests boot: one per configuration-file generation.
FLINK_RELEASES: dict[str, str] = {"1.18": "1.18.1", "1.20": "1.20.3", "2.2": "2.2.0"}
FLINK_CACHE = CACHE_DIR / "flink"
BOOT_TIMEOUT_S = 120.0
METRICS_PORT_OPTION = "metrics.reporter.prom.port"


def java_binary() -> str:
    java = shutil.which("java")
    if java is None:
        missing("Java (Debian's openjdk-17-jdk-headless)")
    return java


def _download(package: str, full_version: str, pattern: str) -> Path:
    """The cached `pip download --no-deps` archive of package==full_version (wheel or sdist)."""
    FLINK_CACHE.mkdir(parents=True, exist_ok=True)
    found = [c for c in FLINK_CACHE.glob(pattern) if c.is_file()]
    if not found:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(FLINK_CACHE),
             f"{package}=={full_version}"],
            capture_output=True, text=True, check=False,
        )
        found = [c for c in FLINK_CACHE.glob(pattern) if c.is_file()]
        if not found:
            reason = result.stderr.strip()[-300:]
            missing(f"{package} {full_version} (pip download failed: {reason})")
    return found[0]


def _unpack(archive: Path, target: Path, parts: tuple[str, ...] | None = None) -> None:
    """Extract Flink's tree from a wheel (`pyflink/`) or sdist (`*/deps/`) into `target`, atomically
    (a half-extracted tree is never mistaken for a complete one); `parts`: only these top directories."""
    staging = Path(tempfile.mkdtemp(dir=FLINK_CACHE, prefix=".extract-"))
    try:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as whl:
                names = [n for n in whl.namelist()
                         if parts is None or n.startswith(tuple(f"pyflink/{p}/" for p in parts))]
                whl.extractall(staging, names)
            dist = staging / "pyflink"
        else:
            with tarfile.open(archive) as sdist:
                members = [m for m in sdist.getmembers()
                           if parts is None or any(f"/deps/{p}/" in m.name for p in parts)]
                sdist.extractall(staging, members, filter="data")
            dist = next(staging.glob("*/deps"))
        if parts is not None:
            # A wheel keeps no file modes; the distribution's scripts are executable.
            for script in (dist / "bin").iterdir():
                script.chmod(0o755)
        dist.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def flink_home(version: str) -> Path:
    """A directory with lib/, bin/bash-java-utils.jar, opt/, plugins/ for this Flink release."""
    full_version = FLINK_RELEASES.get(version, version)
    home = FLINK_CACHE / f"flink-{full_version}"
    if not (home / "lib").is_dir():
        _unpack(_download("apache-flink-libraries", full_version,
                          f"apache[-_]flink[-_]libraries-{full_version}*"), home)
    return home


def flink_scripts(version: str) -> Path:
    """A directory with bin/ (Flink's shell scripts plus bash-java-utils.jar) and conf/ (its defaults),
    from the `apache-flink` package of the same release: what the official image has besides lib/."""
    full_version = FLINK_RELEASES.get(version, version)
    root = FLINK_CACHE / f"scripts-{full_version}"
    if not (root / "bin" / "bash-java-utils.jar").is_file():
        if not (root / "bin" / "jobmanager.sh").is_file():
            # "apache-flink-<v>", not "apache-flink-libraries-<v>".
            _unpack(_download("apache-flink", full_version, f"apache[-_]flink-{full_version}*"), root,
                    ("bin", "conf"))
        shutil.copy2(flink_home(version) / "bin" / "bash-java-utils.jar", root / "bin" / "bash-java-utils.jar")
    return root


def read_config_file(files: Mapping[str, str]) -> dict[str, Any]:
    """Parse the rendered configuration the way Flink does: YAML for config.yaml, lines otherwise."""
    if "config.yaml" in files:
        return dict(yaml.safe_load(files["config.yaml"]) or {})
    options: dict[str, Any] = {}
    for line in files["flink-conf.yaml"].splitlines():
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        if ": " in line:
            key, value = line.split(": ", 1)
            options[key.strip()] = value.strip()
    return options


# The tests' JVMs compile with C1 only: a JobManager plus a TaskManager boot on about a third less CPU
# (measured: 15 s -> 10 s of CPU for 1.20), which matters on CI's two cores. It changes nothing Flink
# reads or does, only how fast hot code gets; the benchmarks measure with the full JIT (fast_start=False),
# and the pod harness runs the image's scripts untouched.
FAST_START_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)


def bash_java_utils(home: Path, command: str, config_dir: Path,
                    dynamic: Sequence[str] = (), jvm_options: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run Flink's BashJavaUtils (GET_JM_RESOURCE_PARAMS / GET_TM_RESOURCE_PARAMS) as its scripts do."""
    classpath = f"{home / 'bin' / 'bash-java-utils.jar'}:{home / 'lib'}/*"
    return subprocess.run(
        [java_binary(), *jvm_options, "-cp", classpath, "org.apache.flink.runtime.util.bash.BashJavaUtils", command,
         "--configDir", str(config_dir), *dynamic],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _exec_results(output: str) -> list[str]:
    prefix = "BASH_JAVA_UTILS_EXEC_RESULT:"
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


@dataclass
class FlinkCluster:
    """One JobManager and `taskmanagers` TaskManagers on loopback, from the rendered files."""

    version: str
    files: Mapping[str, str]
    taskmanagers: int = 1
    taskmanager_env: Mapping[str, str] = field(default_factory=dict)
    extra_dynamic: Mapping[str, str] = field(default_factory=dict)
    work_dir: Path | None = None
    fast_start: bool = True  # FAST_START_JVM_OPTIONS on every JVM of the cluster

    rest_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def home(self) -> Path:
        return flink_home(self.version)

    def __enter__(self) -> FlinkCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self.work_dir = self.work_dir or Path(tempfile.mkdtemp(prefix="flink-"))
        self.config_dir = self.work_dir / "conf"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        for name, content in self.files.items():
            (self.config_dir / name).write_text(content)
        options = read_config_file(self.files)
        self.java_opts = str(options.get("env.java.opts.all", "")).split()
        self.rest_port = self.rest_port or free_port()  # fixed when a test needs the URL beforehand
        self.jobmanager_rpc_port = free_port()
        # Only where things listen changes; sizes, slots, parallelism stay as rendered.
        self.cluster_dynamic = {
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": str(self.jobmanager_rpc_port),
            "jobmanager.bind-host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(self.rest_port),
            "blob.server.port": str(free_port()),
            **({"queryable-state.proxy.ports": str(free_port())}
               if "queryable-state.proxy.ports" in options else {}),
            # With the REST proxy the rendering binds Flink's REST to its own loopback port.
            **({"rest.bind-port": str(self.rest_port)} if "rest.bind-port" in options else {}),
            **self.extra_dynamic,
        }
        # The Prometheus reporter listens on the rendered port in a pod; here each process gets its own.
        self.metrics_ports: dict[str, int] = {}
        self._metrics = METRICS_PORT_OPTION in options
        self._start_jobmanager()
        for index in range(self.taskmanagers):
            self.start_taskmanager(index)
        slots = int(options.get("taskmanager.numberOfTaskSlots", 1))
        self.wait_for_slots(self.taskmanagers * slots)

    def restart(self, *, wait: bool = True, with_taskmanagers: bool = True) -> None:
        """Kill every process and start them again on the same ports: a JobManager (and TaskManager)
        restart, which without HA forgets every job. `wait=False` returns while they boot (a pod roll in
        progress); `with_taskmanagers=False` starts only the JobManager (start_taskmanager later)."""
        for process in self.processes:
            process.kill()
            process.wait()
        self.processes.clear()
        self._start_jobmanager()
        for index in range(self.taskmanagers if with_taskmanagers else 0):
            self.start_taskmanager(index)
        if wait:
            slots = int(read_config_file(self.files).get("taskmanager.numberOfTaskSlots", 1))
            self.wait_for_slots(self.taskmanagers * slots)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def metrics_url(self, process: str) -> str:
        """The Prometheus endpoint of "jobmanager" or "taskmanager-<i>" (reporter on in the rendered files)."""
        return f"http://127.0.0.1:{self.metrics_ports[process]}/metrics"

    def _metrics_override(self, process: str) -> dict[str, str]:
        if not self._metrics:
            return {}
        port = self.metrics_ports.setdefault(process, free_port())
        return {METRICS_PORT_OPTION: str(port)}

    def _jvm_options(self) -> tuple[str, ...]:
        return FAST_START_JVM_OPTIONS if self.fast_start else ()

    def _dynamic_args(self, extra: Mapping[str, str] | None = None) -> list[str]:
        merged = {**self.cluster_dynamic, **(extra or {})}
        return [f"-D{key}={value}" for key, value in merged.items()]

    def _memory_args(self, command: str, dynamic: list[str]) -> tuple[list[str], list[str]]:
        result = bash_java_utils(self.home, command, self.config_dir, dynamic, self._jvm_options())
        lines = _exec_results(result.stdout)
        if result.returncode != 0 or not lines:
            raise RuntimeError(f"BashJavaUtils {command} refused the configuration: "
                               f"{(result.stdout + result.stderr)[-2000:]}")
        jvm = lines[0].split()
        memory_dynamic = lines[1].split() if len(lines) > 1 else []
        return jvm, memory_dynamic

    def _launch(self, name: str, main_class: str, command: str, dynamic: list[str],
                env: Mapping[str, str] | None = None) -> None:
        assert self.work_dir is not None
        jvm, memory_dynamic = self._memory_args(command, dynamic)
        log_file = self.work_dir / f"{name}.log"
        argv = [
            java_binary(), *jvm, *self.java_opts, *self._jvm_options(),
            f"-Dlog.file={log_file}",
            f"-Dlog4j.configurationFile=file:{self.config_dir / 'log4j-console.properties'}",
            "-cp", f"{self.home / 'lib'}/*",
            main_class, "--configDir", str(self.config_dir), *dynamic, *memory_dynamic,
        ]
        stdout = open(self.work_dir / f"{name}.out", "wb")  # noqa: SIM115 - closed with the process
        # As the image lays it out: plugins/ (metrics reporters) next to lib/, found through FLINK_PLUGINS_DIR
        # (Flink's default is ./plugins, relative to the working directory).
        process_env = {**os.environ, "FLINK_HOME": str(self.home),
                       "FLINK_PLUGINS_DIR": str(self.home / "plugins"), **(env or {})}
        self.processes.append(subprocess.Popen(argv, stdout=stdout, stderr=subprocess.STDOUT,
                                               env=process_env, cwd=self.work_dir))

    def _start_jobmanager(self) -> None:
        self._launch("jobmanager", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                     "GET_JM_RESOURCE_PARAMS", self._dynamic_args(self._metrics_override("jobmanager")))

    def start_taskmanager(self, index: int) -> None:
        dynamic = self._dynamic_args({"taskmanager.rpc.port": str(free_port()),
                                      **self._metrics_override(f"taskmanager-{index}")})
        self._launch(f"taskmanager-{index}", "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                     "GET_TM_RESOURCE_PARAMS", dynamic, env=self.taskmanager_env)

    # -- observation ------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.rest_url}/overview", timeout=5).json())

    def wait_for_slots(self, slots: int, timeout: float = BOOT_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            dead = [p for p in self.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a Flink process exited with {dead[0].returncode}:\n{self.logs()[-4000:]}")
            try:
                last = self.overview()
                if last.get("slots-total") == slots:  # type: ignore[union-attr]
                    return last  # type: ignore[return-value]
            except requests.RequestException as error:
                last = error
            time.sleep(0.3)
        raise TimeoutError(f"Flink did not offer {slots} slots in {timeout:.0f}s (last: {last}):\n"
                           f"{self.logs()[-4000:]}")

    def logs(self) -> str:
        if self.work_dir is None:
            return ""
        parts = []
        for path in sorted(self.work_dir.glob("*.out")) + sorted(self.work_dir.glob("*.log")):
            parts.append(f"==> {path.name} <==\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


if __name__ == "__main__":
    # `python -m tests.harness.flink`: fetch and unpack every distribution the tests boot.
    for release in FLINK_RELEASES:
        print(f"Flink {FLINK_RELEASES[release]}: {flink_home(release)}, scripts {flink_scripts(release)}")
