"""Values not known yet: what `pulumi preview` hands a dynamic provider's check and diff.

The provider host turns them into `pulumi.output.Unknown` objects; the wire sentinel string is what
the engine sends for them. Shared by both dynamic providers, which must accept such values and never
touch Flink or the database because of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN


def is_unknown(value: Any) -> bool:
    """True if the value, or anything inside it, is not known yet."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(k) or is_unknown(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False


def unknown_in_preview() -> Any:
    """A pulumi Output not known before `up` (a jar CI did not build): a preview shows it as unknown."""
    import pulumi

    async def value() -> None:
        return None

    async def known() -> bool:
        return False

    return pulumi.Output(set(), value(), known())
