"""Reading the stack configuration with the program's error style.

`ConfigError` is one line naming the key, the problem and a fix that runs as printed; `_Reader` wraps
`pulumi.Config` so that every typed read fails that way; keys nothing declares (typos) stop the
program naming the declared key they most likely meant. Shared by `settings` and `settings_jobs`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pulumi

from components.config_commands import closest, config_rm, config_set, known_keys, path

PROJECT = "flink-hologres"

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A user mistake in the stack configuration: printed as one line, without a traceback.

    `fix` is a shell command that runs as printed (build it with config_set / config_rm)."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"config '{key}': {problem}. Fix: {fix}")
        self.key = key
        self.fix = fix


# --- reading helpers -----------------------------------------------------------------------------


class _Reader:
    """pulumi.Config with our error style: every failure names its key and the fix."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config

    def is_secret(self, key: str) -> bool:
        return pulumi.runtime.is_config_secret(f"{self.config.name}:{key}")

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.config.get(key)
        return default if value is None or value.strip() == "" else value.strip()

    def required_text(self, key: str, example: str) -> str:
        value = self.text(key)
        if value is None:
            # A placeholder is never typed into the command: the CLI asks for the value.
            raise ConfigError(key, "is required", config_set(key, note=f"asks for the value, e.g. {example}"))
        return value

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(key, f"'{raw}' is not a whole number",
                              config_set(key, str(default))) from None
        if value < minimum:
            raise ConfigError(key, f"must be at least {minimum}, got {value}",
                              config_set(key, str(max(default, minimum))))
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(key, f"'{raw}' is not true or false", config_set(key, "false"))
        return lowered == "true"

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(key, default)
        if value is not None and value not in allowed:
            raise ConfigError(key, f"'{value}' is not one of {', '.join(allowed)}",
                              config_set(key, default or allowed[0]))
        return value

    def structured(self, key: str, kind: type[T], default: T, example: str) -> T:
        """A list or map; `example` is a value for its first entry (a list) or an entry as
        `["name"] value` (a map). The older list form "[0]' value" is accepted too."""
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        fix = self._example_fix(key, kind, example)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(key, "is not valid structured config", f"{config_rm(key)} && {fix}") from None
        if not isinstance(value, kind):
            raise ConfigError(key, f"must be a {'list' if kind is list else 'map'}", f"{config_rm(key)} && {fix}")
        return value

    @staticmethod
    def _example_fix(key: str, kind: type, example: str) -> str:
        if kind is list:
            return config_set(path(key, 0), example.removeprefix("[0]' "))
        option, _, value = example.partition(" ")
        return config_set(path(key, json.loads(option.strip("[]"))), value)

    def string_list(self, key: str, example: str) -> list[str]:
        values = self.structured(key, list, [], example)
        if not all(isinstance(v, (str, int, float)) for v in values):
            raise ConfigError(key, "must be a list of strings",
                              f"{config_rm(key)} && {self._example_fix(key, list, example)}")
        return [str(v) for v in values]

    def secret(self, key: str, what: str) -> pulumi.Output[str]:
        # Without a value the CLI asks for it, without echo (and it stays out of the shell history).
        fix = config_set(key, secret=True, note=f"asks for the {what}")
        if not self.text(key):
            raise ConfigError(key, "is required and missing", fix)
        # A value set without --secret sits in plaintext in Pulumi.<stack>.yaml: refuse it.
        if not self.is_secret(key):
            raise ConfigError(key, "is stored in plaintext in the stack file", fix)
        return self.config.require_secret(key)


def _validated(key: str, fix: str, parse: Callable[[], T]) -> T:
    """Run a pure parser; its ValueError becomes a ConfigError for `key`."""
    try:
        return parse()
    except ValueError as error:
        raise ConfigError(key, str(error), fix) from None


def _unknown(key: str, name: str, value: Any, known: tuple[str, ...], key_for: Callable[[str], str], *,
             secret: bool) -> None:
    """A key nothing reads (`name` is its last part): one line naming it and the declared key it likely meant."""
    guess = closest(name, known)
    hint = f"did you mean {guess}?" if guess else "Pulumi.yaml lists the keys"
    fix = config_rm(key)
    if guess and not secret and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        fix += " && " + config_set(key_for(guess), str(value))
    elif guess:
        fix += "  # then set " + key_for(guess)
    raise ConfigError(key, f"is not a setting of {PROJECT} ({hint})", fix)


def _check_known_keys(read: _Reader, keys: list[str]) -> None:
    prefix = f"{read.config.name}:"
    known = known_keys()
    for full_key in sorted(keys):
        key = full_key[len(prefix):] if full_key.startswith(prefix) else None
        if key is not None and key not in known:
            raw = read.config.get(key)
            try:  # a list or map set with --path arrives as JSON: no one-word value to move
                value: Any = raw if not isinstance(json.loads(raw or ""), (list, dict)) else None
            except json.JSONDecodeError:
                value = raw
            _unknown(key, key, value, known, lambda guess: guess, secret=read.is_secret(key))


def _config_keys() -> list[str]:
    """Every key of the stack config (all namespaces), as the language host handed it to the program."""
    return sorted(set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env()))
