"""The project's declared config keys, and the `pulumi config` commands that error messages suggest.

Every "Fix:" the settings print must run as printed: keys that are paths use Pulumi's path syntax
(`--path 'jobs[0].name'`, `--path 'flinkConfig["state.backend.type"]'`), values are shell-quoted,
a value that starts with `-` comes after `--` (`pulumi config set <key> [flags] [--] [value]`), and a
placeholder is never typed into the command: without a value `pulumi config set` asks for it (without
echo for --secret), and the example goes into a trailing `# …` comment. No Pulumi import, no I/O
besides reading Pulumi.yaml.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = Path(__file__).resolve().parents[1] / "Pulumi.yaml"
# Object-valued keys: documented in Pulumi.yaml's comments, not declared (see the note there).
OBJECT_KEYS = ("flinkConfig", "jobFlinkConfig", "jobs")
# The fields of one `jobs` entry; Flink options inside `flinkConfig` stay free-form.
JOB_FIELDS = ("name", "jar", "entryClass", "args", "parallelism", "upgradeMode", "savepointDir",
              "allowNonRestoredState", "flinkConfig", "state", "stableSeconds", "requireCheckpoint",
              "checkpointInterval", "maxCheckpointAgeSeconds", "savepointsToKeep", "abandonOnUnreachable",
              "initialSavepointPath")

# The Hologres admin credentials: secret stack config the settings require and the table and writer providers
# read in `configure()` (the engine hands providers the stack config by these names, never through inputs).
HOLOGRES_USER = "hologresUser"
HOLOGRES_PASSWORD = "hologresPassword"

_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def path(key: str, *parts: str | int) -> str:
    """Pulumi's path syntax: path('jobs', 0, 'name') → jobs[0].name, path('flinkConfig', 'a.b') → flinkConfig["a.b"]."""
    text = key
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _key_words(key: str) -> list[str]:
    return [shlex.quote(key)] if _PLAIN_KEY.match(key) else ["--path", shlex.quote(key)]


def config_set(key: str, value: str | None = None, *, secret: bool = False, note: str | None = None) -> str:
    """`pulumi config set` for `key`; without `value` the CLI asks for it, `note` becomes a comment."""
    words = ["pulumi", "config", "set"] + (["--secret"] if secret else []) + _key_words(key)
    if value is not None:
        words += (["--"] if value.startswith("-") else []) + [shlex.quote(value)]
    return _with_note(" ".join(words), note)


def config_rm(key: str, *, note: str | None = None) -> str:
    return _with_note(" ".join(["pulumi", "config", "rm", *_key_words(key)]), note)


def _with_note(command: str, note: str | None) -> str:
    return f"{command}  # {note}" if note else command


@functools.lru_cache(maxsize=1)
def declared() -> Mapping[str, Mapping[str, Any]]:
    """The `config:` block of Pulumi.yaml: key → {type, description, default, …}."""
    return dict(yaml.safe_load(PROJECT_FILE.read_text()).get("config") or {})


def known_keys() -> tuple[str, ...]:
    return tuple(declared()) + OBJECT_KEYS


def default_text(key: str) -> str | None:
    """A declared default as the CLI hands it to the program (primitives as text, objects as JSON)."""
    spec = declared().get(key, {})
    if "default" not in spec:
        return None
    value = spec["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a typo most likely meant (case-insensitive first, then difflib)."""
    options = list(candidates)
    by_lower = {option.lower(): option for option in options}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None
