"""Scrape a Prometheus endpoint and parse its text exposition format (version 0.0.4), as Prometheus does.

Only what the tests read: `name{label="value",…} value` samples; comments (# HELP / # TYPE) skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match is None:
            raise ValueError(f"not a Prometheus sample line: {line!r}")
        labels = {key: bytes(value, "utf-8").decode("unicode_escape")
                  for key, value in _LABEL.findall(match["labels"] or "")}
        samples.append(Sample(match["name"], labels, float(match["value"])))
    return samples


def scrape(url: str) -> list[Sample]:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return parse(response.text)
