"""The Pulumi engine's order of calls on dynamic resources, over pulumi's own provider host.

`Engine` performs each Pulumi operation on one resource with the provider calls the engine makes, in
its order and with its arguments, and afterwards keeps exactly what the engine keeps in the snapshot.
Read from pulumi/pulumi at commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8 (2026-08-21):

- **up, new resource** — `Check(olds={}, news)` then `Create(checked inputs)`; the snapshot gets
  (id, checked inputs, create's outputs). `step_generator.go` generateResourceSteps (Check without
  olds when `old == nil`), `step.go` CreateStep.Apply.
- **up, existing resource** — `Check(olds=old inputs, news)` then `Diff(id, olds=old outputs,
  news=checked inputs, old_inputs=old inputs)` (`step_generator.go` diff → diffResource); no change:
  a same step (new inputs, old outputs); changes without replaces: `Update(id, olds=old outputs,
  news=new inputs, old_inputs)` (`step.go` UpdateStep.Apply). A failed update keeps the old inputs and
  outputs whatever the provider did (`backend/snapshot.go` updateSnapshotMutation.End: nothing is
  marked done or new unless successful).
- **replace** — `Check(olds={}, news)` again (continueStepsFromDiff re-checks with News only), then
  create-before-delete by default: `Create(new)`, dependents, and only at the end `Delete(old id, old
  outputs, old inputs)` (the old resource is marked for deletion; a crash in between leaves it pending
  and the next deployment deletes it). Delete-before-replace when the diff asks for it, or when the
  resource option says so (`goal.DeleteBeforeReplace` overrides the provider): `Delete(old)` then
  `Create(new)`. `pulumi up --replace` skips Diff (isTargetedReplace: replace blamed on "id") and
  checks without olds.
- **refresh** — `Read(id, inputs=old inputs, properties=old outputs)`; an empty id drops the resource
  from the snapshot; otherwise `Diff(id, olds=refreshed outputs, news=old inputs, old_inputs=refreshed
  inputs or old inputs)` to show drift (`step.go` RefreshStep.Apply, which passes the new state as the
  old side and the old inputs as the new side, then inverts). An exception in either fails the refresh
  and the snapshot keeps what it had.
- **preview** — `Check` and `Diff` only, unknowns as the wire sentinel: the dynamic provider host does
  not announce `supportsPreview`, so `plugin/provider_plugin.go` never forwards Create/Update in a
  preview.
- **destroy** — `Delete(id, properties=outputs, old_inputs=inputs)`; a failed delete keeps the resource.
- **dependents of a delete-before-replace** (`up_program`) — when a resource is replaced delete-first,
  the engine walks the snapshot's resources that depend on it and, for each whose input *properties*
  depend on a resource being replaced (a `dependsOn` edge alone does not count), calls `Diff(id, olds=old
  outputs, news=old inputs with those properties unknown, old_inputs)`; each that answers "replace" joins
  the replace set and is deleted first, in reverse dependency order, before the resource itself
  (`step_generator.go` calculateDependentReplacements 3268-3411, its use 2047-2130). The replacement's
  re-check (`Check(olds={}, news)`, 2003-2021) comes before those diffs. A deleted dependent registered
  again later in the same deployment is re-created without a Diff: `Check(olds={}, news)` then `Create`
  (1321-1330, 1482-1505). Resources already registered in the deployment are never dependents.
- **parallel** — the engine runs independent steps concurrently against one provider process
  (`step_executor.go` workers); `up_all` does that for resources without dependencies on each other.

Use::

    engine = Engine(provider_host, config={"flink-hologres:hologresUser": "me", ...})
    engine.up("job", inputs)               # create
    engine.up("job", changed_inputs)       # update (or replace, as the diff says)
    engine.refresh("job"); engine.preview("job", inputs); engine.destroy("job")

`engine.calls` lists the provider calls of every operation (e.g. ["check", "diff", "update"]); the
last operation's are `engine.last_calls`. A provider failure raises `ProviderError` after the snapshot
was updated the way the engine updates it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.harness.provider_host import UNKNOWN, CheckFailed, DiffResult, ProviderError, ProviderHost


@dataclass
class State:
    """One resource in the snapshot."""

    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    # Input property → names of the resources its value came from (the engine's propertyDependencies).
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Registration:
    """A resource as the program registers it in one `up`: its inputs, or a function of the snapshot for
    inputs that are outputs of resources registered before it, and which inputs depend on which resources."""

    name: str
    news: Mapping[str, Any] | Callable[[Mapping[str, State]], Mapping[str, Any]]
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass
class _Deployment:
    registered: set[str] = field(default_factory=set)
    deleted_dependents: set[str] = field(default_factory=set)  # deleted for a delete-first replacement


@dataclass(frozen=True)
class Preview:
    failures: list[tuple[str, str]]
    diff: DiffResult | None  # None for a resource the snapshot does not have (a create)

    @property
    def changes(self) -> bool:
        return bool(self.failures) or self.diff is None or self.diff.changes != "none"


@dataclass(frozen=True)
class Refresh:
    state: State | None  # None: the provider reported the resource gone and the engine dropped it
    diff: DiffResult | None  # the drift refresh shows (None when the resource is gone)

    @property
    def drift(self) -> bool:
        return self.state is None or (self.diff is not None and self.diff.changes != "none")


class Crash(Exception):
    """The engine process died between two steps (`crash_after`)."""


@dataclass
class Engine:
    host: ProviderHost
    config: Mapping[str, Any] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    resources: dict[str, State] = field(default_factory=dict)
    # Replaced resources that a create-before-delete replacement has not deleted yet (crash, failure).
    pending_deletes: list[State] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (resource, provider call), every operation
    last_calls: list[str] = field(default_factory=list)  # the provider calls of the last operation
    # Called with (resource, provider call) right before each call, e.g. to look at the world in between.
    before_call: Callable[[str, str], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # The engine configures a provider once, when it loads it, with the whole stack config
        # (namespaced keys, secrets decrypted); the host also has PULUMI_PROJECT in its environment.
        self.host.configure(self.config, self.secret_keys)

    def state(self, name: str) -> State | None:
        return self.resources.get(name)

    def calls_of(self, name: str) -> list[str]:
        return [method for resource, method in self.calls if resource == name]

    def _record(self, name: str, method: str, log: list[str] | None) -> None:
        with self._lock:
            self.calls.append((name, method))
        if log is not None:
            log.append(method)
        if self.before_call is not None:
            self.before_call(name, method)

    def _begin(self) -> list[str]:
        self.last_calls = []
        return self.last_calls

    # --- operations ------------------------------------------------------------------------------

    def up(self, name: str, news: Mapping[str, Any], *, replace: bool = False,
           delete_before_replace: bool | None = None, crash_after: str | None = None) -> State:
        """`pulumi up` of one resource. `replace` is `pulumi up --replace`, `delete_before_replace` the
        resource option, `crash_after` a provider call ("create", "update", "delete") after which the
        engine dies: the snapshot is left as the engine would have written it so far."""
        return self._up(name, news, self._begin(), replace=replace, delete_before_replace=delete_before_replace,
                        crash_after=crash_after)

    def up_program(self, registrations: Sequence[Registration]) -> dict[str, State]:
        """One `pulumi up` of a program that registers these resources in this order, each once the ones
        before it are done (how the SDK registers a resource whose inputs or dependsOn are theirs), with
        the engine's handling of dependents of a delete-first replacement (see the module docstring)."""
        log, deployment = self._begin(), _Deployment()
        for registration in registrations:
            name = registration.name
            news = registration.news(self.resources) if callable(registration.news) else registration.news
            if name in deployment.deleted_dependents:  # re-created: no Diff, checked without olds
                checked = self._check(name, {}, news, log)
                self._record(name, "create", log)
                id_, outputs = self.host.create(checked, name)
                state = self._store(State(name, id_, checked, outputs))
            else:
                state = self._up(name, news, log, deployment=deployment)
            state.property_dependencies = {key: list(on) for key, on in registration.property_dependencies.items()}
            deployment.registered.add(name)
        return dict(self.resources)

    def _delete_dependents(self, root: str, deployment: _Deployment, log: list[str] | None) -> None:
        """calculateDependentReplacements, then the deletes of the dependents that must be replaced."""
        replacing, dependents = {root}, []
        for state in list(self.resources.values()):  # the snapshot's order is dependency order
            if state.name == root or state.name in deployment.registered:
                continue
            unknown = {key for key, on in state.property_dependencies.items() if replacing & set(on)}
            if not unknown:
                continue
            news = {key: UNKNOWN if key in unknown else value for key, value in state.inputs.items()}
            self._record(state.name, "diff", log)
            if self.host.diff(state.id, state.outputs, news, state.name, old_inputs=state.inputs).replaces:
                replacing.add(state.name)
                dependents.append(state)
        for state in reversed(dependents):
            self._record(state.name, "delete", log)
            self.host.delete(state.id, state.outputs, state.name, old_inputs=state.inputs)
            with self._lock:
                del self.resources[state.name]
            deployment.deleted_dependents.add(state.name)

    def _up(self, name: str, news: Mapping[str, Any], log: list[str] | None, *, replace: bool = False,
            delete_before_replace: bool | None = None, crash_after: str | None = None,
            deployment: _Deployment | None = None) -> State:
        self._run_pending_deletes(name, log)
        old = self.resources.get(name)
        if old is None or replace:
            checked = self._check(name, {}, news, log)
            if old is None:
                self._record(name, "create", log)
                id_, outputs = self.host.create(checked, name)
                return self._store(State(name, id_, checked, outputs), crash_after == "create")
            return self._replace(old, checked, bool(delete_before_replace), log, crash_after)
        checked = self._check(name, old.inputs, news, log)
        self._record(name, "diff", log)
        diff = self.host.diff(old.id, old.outputs, checked, name, old_inputs=old.inputs)
        if diff.changes == "none":
            return self._store(State(name, old.id, checked, old.outputs))
        if diff.replaces:
            rechecked = self._check(name, {}, news, log)  # the engine re-checks without olds to replace
            dbr = diff.delete_before_replace if delete_before_replace is None else delete_before_replace
            if dbr and deployment is not None:
                self._delete_dependents(name, deployment, log)
            return self._replace(old, rechecked, dbr, log, crash_after)
        self._record(name, "update", log)
        # A ProviderError propagates here and the snapshot keeps `old` untouched.
        outputs = self.host.update(old.id, old.outputs, checked, name, old_inputs=old.inputs)
        return self._store(State(name, old.id, checked, outputs), crash_after == "update")

    def _check(self, name: str, olds: Mapping[str, Any], news: Mapping[str, Any],
               log: list[str] | None) -> dict[str, Any]:
        self._record(name, "check", log)
        checked = self.host.check(olds, news, name)
        if checked.failures:
            raise CheckFailed(checked.failures)
        return checked.inputs

    def _replace(self, old: State, inputs: dict[str, Any], delete_before_replace: bool, log: list[str] | None,
                 crash_after: str | None) -> State:
        name = old.name
        if delete_before_replace:
            self._record(name, "delete", log)
            self.host.delete(old.id, old.outputs, name, old_inputs=old.inputs)
            with self._lock:
                del self.resources[name]
            if crash_after == "delete":
                raise Crash(f"crashed after deleting {name} for its replacement")
            self._record(name, "create", log)
            id_, outputs = self.host.create(inputs, name)
            return self._store(State(name, id_, inputs, outputs), crash_after == "create")
        self._record(name, "create", log)
        id_, outputs = self.host.create(inputs, name)
        new = self._store(State(name, id_, inputs, outputs))
        with self._lock:
            self.pending_deletes.append(old)  # deleted after every create and update of the deployment
        if crash_after == "create":
            raise Crash(f"crashed after creating the replacement of {name}, before deleting the old one")
        self._run_pending_deletes(name, log)
        return new

    def _run_pending_deletes(self, name: str, log: list[str] | None) -> None:
        for pending in [p for p in self.pending_deletes if p.name == name]:
            self._record(name, "delete", log)
            self.host.delete(pending.id, pending.outputs, name, old_inputs=pending.inputs)
            with self._lock:
                self.pending_deletes.remove(pending)

    def _store(self, state: State, crash: bool = False) -> State:
        with self._lock:
            self.resources[state.name] = state
        if crash:
            raise Crash(f"crashed right after a step of {state.name}")
        return state

    def up_all(self, news_by_name: Mapping[str, Mapping[str, Any]]) -> dict[str, State | BaseException]:
        """One `pulumi up` of resources that do not depend on each other: their steps run concurrently,
        as the engine's step workers run them, against the one provider process. A failure of one does
        not stop the others; each result is the new state or the error."""

        def one(name: str) -> State | BaseException:
            try:
                return self._up(name, news_by_name[name], None)
            except (ProviderError, CheckFailed) as error:
                return error

        self._begin()
        with ThreadPoolExecutor(max_workers=max(1, len(news_by_name))) as pool:
            return dict(zip(news_by_name, pool.map(one, news_by_name), strict=True))

    def preview(self, name: str, news: Mapping[str, Any]) -> Preview:
        """`pulumi preview`: Check, and Diff for a resource in the snapshot; nothing else is called."""
        log = self._begin()
        old = self.resources.get(name)
        self._record(name, "check", log)
        checked = self.host.check(old.inputs if old else {}, news, name)
        if checked.failures or old is None:
            return Preview(checked.failures, None)
        self._record(name, "diff", log)
        return Preview([], self.host.diff(old.id, old.outputs, checked.inputs, name, old_inputs=old.inputs))

    def refresh(self, name: str) -> Refresh:
        """`pulumi refresh` of one resource: Read, then Diff of the refreshed state against the old inputs."""
        log = self._begin()
        old = self.resources[name]
        self._record(name, "read", log)
        id_, outputs, refreshed_inputs = self.host.read_full(old.id, old.outputs, old.inputs, name)
        if not id_:
            with self._lock:
                del self.resources[name]
            return Refresh(None, None)
        inputs = refreshed_inputs if refreshed_inputs is not None else old.inputs
        self._record(name, "diff", log)
        # A ProviderError propagates here: the refresh fails and the snapshot keeps `old`.
        diff = self.host.diff(id_, outputs, old.inputs, name, old_inputs=inputs)
        new = self._store(State(name, id_, inputs, outputs))
        return Refresh(new, diff)

    def destroy(self, name: str) -> None:
        """`pulumi destroy` of one resource (and any replaced instance it still owes a delete)."""
        log = self._begin()
        self._run_pending_deletes(name, log)
        state = self.resources[name]
        self._record(name, "delete", log)
        # A ProviderError propagates here and the resource stays in the snapshot.
        self.host.delete(state.id, state.outputs, name, old_inputs=state.inputs)
        with self._lock:
            del self.resources[name]

    def destroy_all(self, names: Iterable[str]) -> None:
        """Destroy in the given order (dependents first, as the engine schedules deletes)."""
        for name in names:
            self.destroy(name)
