"""The error a component raises for an argument that breaks one of its own rules.

Components know their arguments, not this program's stack config: the error names the argument as a
caller spells it (`ui_allowed_cidrs`, index 0) and says what is wrong, naming other arguments as {field}.
The settings layer, which built the arguments from the config, words the same error with the config keys
and adds the fix (`components.settings_cloud`); a component reused without these settings gets the same
protection. No Pulumi, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class ArgumentError(ValueError):
    def __init__(self, argument: str, problem: str, *, index: int | None = None,
                 suggestion: str | None = None, given: str | None = None) -> None:
        self.argument = argument
        self.index = index
        self.problem = problem
        # A value that passes the rule, when the rule knows one (a free Service CIDR, a suitable zone).
        self.suggestion = suggestion
        # The argument whose value makes `argument` necessary (one of a pair given alone).
        self.given = given
        super().__init__(f"{self.where()}: {self.worded()}")

    def where(self, names: Mapping[str, str] | None = None) -> str:
        """The argument as `names` calls it (default: its own name), with its index."""
        name = (names or {}).get(self.argument, self.argument)
        return name if self.index is None else f"{name}[{self.index}]"

    def worded(self, names: Mapping[str, str] | None = None) -> str:
        """The problem with every {field} as `names` calls it (default: the argument's own name)."""
        return re.sub(r"\{(\w+)\}", lambda m: (names or {}).get(m[1], m[1]), self.problem)
