"""Where Flink keeps checkpoints, savepoints and HA metadata, and how it reaches them: one decision, one value.

The settings decide it (a URI the user gives) or the state storage component does (a bucket it creates,
whose name is known only at deploy time); the session cluster takes it as is. The scheme is known before
the location: it decides the file-system plugin, which the pods' manifests need as a plain value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components import flink_config


@dataclass(frozen=True, kw_only=True)
class DurableState:
    scheme: str  # oss, s3, gs, abfs, hdfs, file: decides the file-system plugin
    location: pulumi.Input[str]  # the base URI (checkpoints/, savepoints/, ha/ below it)
    # Flink options the location implies (e.g. fs.oss.endpoint); the user's flinkConfig wins over them.
    options: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    # Options that must stay secret (file-system credentials): only ever in the cluster's Secret.
    secret_options: pulumi.Input[Mapping[str, str]] | None = None

    @classmethod
    def at(cls, uri: str) -> DurableState:
        """A location known now; a ValueError says why `uri` is not one Flink can write to."""
        return cls(scheme=flink_config.StateLocation(uri).scheme, location=uri)

    @property
    def filesystem_plugin(self) -> str | None:
        return flink_config.filesystem_plugin(self.scheme)
