"""A dynamic provider that only records what the engine-order harness sends it (for the harness' own tests).

It is loaded by pulumi's provider host like any dynamic provider (pickled by reference); each call
appends one JSON line to the file named by the `log` input. `fail` names a method that raises, and
`replace_on` names inputs whose change needs a replacement (`dbr` asks for delete-before-replace).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi.dynamic as dynamic


def _note(props: dict[str, Any], method: str, **details: Any) -> None:
    with open(props["log"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"method": method, **details}, sort_keys=True, default=str) + "\n")


class RecordingProvider(dynamic.ResourceProvider):
    def configure(self, req: dynamic.ConfigureRequest) -> None:
        # What a provider can ask for: a short key, resolved in the project's namespace.
        self.config = {"hologresUser": req.config.get("hologresUser")}

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        _note(news, "check", olds=sorted(k for k in olds if k != "__provider"),
              config=getattr(self, "config", {}), project=pulumi.get_project())
        return dynamic.CheckResult(news, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        _note(news, "diff", id=id_, old_value=olds.get("value"), new_value=news.get("value"),
              old_generation=olds.get("generation"))
        if news.get("fail") == "diff":
            raise RuntimeError("diff failed on purpose")
        changed = olds.get("value") != news.get("value")
        replaces = [k for k in news.get("replace_on") or [] if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=changed or bool(replaces), replaces=replaces,
                                  delete_before_replace=bool(news.get("dbr")))

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        _note(props, "create", value=props.get("value"))
        if props.get("fail") == "create":
            raise RuntimeError("create failed on purpose")
        return dynamic.CreateResult(f"id-{props.get('value')}", {**props, "generation": 1})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        _note(props, "read", id=id_, value=props.get("value"))
        if props.get("gone"):
            return dynamic.ReadResult("", {})
        return dynamic.ReadResult(id_, {**props, "value": props.get("drifted_value", props.get("value"))})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        _note(news, "update", id=id_, old_value=olds.get("value"), new_value=news.get("value"))
        if news.get("fail") == "update":
            raise RuntimeError("update failed on purpose")
        return dynamic.UpdateResult({**news, "generation": int(olds.get("generation", 0)) + 1})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _note(props, "delete", id=id_, value=props.get("value"))
        if props.get("fail") == "delete":
            raise RuntimeError("delete failed on purpose")
