"""Compile the Java test jobs under tests/java with `javac` against a Flink distribution's lib/*.

The jar is cached under .cache/java by a hash of the sources and the Flink release, so a test run
compiles each (sources, release) pair once; a changed source is a new jar.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from tests.harness import CACHE_DIR, REPO_ROOT, missing
from tests.harness.flink import FLINK_RELEASES, flink_home

JAVA_SOURCES = REPO_ROOT / "tests" / "java"
JAVA_CACHE = CACHE_DIR / "java"

COUNTING_JOB = "flinkhologres.testjobs.CountingJob"
FAILING_JOB = "flinkhologres.testjobs.FailingJob"
FLAKY_JOB = "flinkhologres.testjobs.FlakyJob"


def _sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.java"))


def _digest(sources: list[Path], root: Path, release: str) -> str:
    digest = hashlib.sha256(f"flink-{release}\0".encode())
    for path in sources:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def compile_jobs_jar(version: str, root: Path = JAVA_SOURCES, bundle: Sequence[Path] = ()) -> Path:
    """A jar of every test job under `root`, compiled against Flink `version` (cached). The jars in
    `bundle` (e.g. a JDBC driver) are on the compile classpath and copied into the job jar, as a
    fat jar carries its connectors."""
    javac = shutil.which("javac")
    if javac is None:
        missing("javac (Debian's openjdk-17-jdk-headless)")
    release = FLINK_RELEASES.get(version, version)
    sources = _sources(root)
    for dependency in bundle:
        if not dependency.is_file():
            missing(f"{dependency} (Debian's libpostgresql-jdbc-java)")
    bundled = "".join(f"{d.resolve()}:{d.stat().st_size};" for d in bundle)
    jar = JAVA_CACHE / f"test-jobs-{_digest(sources, root, release + bundled)}.jar"
    if jar.is_file():
        return jar
    home = flink_home(version)
    JAVA_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=JAVA_CACHE, prefix=".javac-") as work:
        classes = Path(work) / "classes"
        result = subprocess.run(
            [javac, "--release", "11", "-nowarn", "-d", str(classes),
             "-cp", ":".join([f"{home / 'lib'}/*", *map(str, bundle)]),
             *map(str, sources)],
            capture_output=True, text=True, timeout=300, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"javac failed for {root}:\n{result.stdout}{result.stderr}")
        staging = Path(work) / "job.jar"
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
            manifest = "Manifest-Version: 1.0\r\nCreated-By: flink-hologres tests\r\n\r\n"
            archive.writestr("META-INF/MANIFEST.MF", manifest)
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, str(path.relative_to(classes)))
            for dependency in bundle:
                with zipfile.ZipFile(dependency) as library:
                    for entry in library.infolist():
                        # Our manifest wins; a signed library's signatures would not match a fat jar.
                        if entry.filename.upper().startswith("META-INF/") and (
                                entry.filename.upper().endswith((".SF", ".RSA", ".DSA", "MANIFEST.MF"))):
                            continue
                        archive.writestr(entry, library.read(entry))
        # Atomic, so a concurrent run never sees half a jar.
        os.replace(staging, jar)
    return jar
