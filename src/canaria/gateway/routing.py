"""The live routing state: compiled routes, aliases and their splits, latest versions.

The controller writes it (``set_alias`` after every persisted alias change); the gateway
reads it once per request. Every write replaces one immutable value (a ``Router``, an
``AliasSplit`` built from a frozen ``Alias``) in a single assignment, so a request routed
after the write sees the new state entirely and a request already routed keeps the
choice it made.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from canaria.errors import NotFound
from canaria.models import AccessLogSpec, Alias, RouteSpec

from .routes import Router
from .splitter import AliasSplit, resolve_pin
from .types import SplitMode


class Routing:
    def __init__(self, *, split_mode: SplitMode = "deterministic", seed: int | None = None) -> None:
        self.router = Router(())
        self._route_alias: dict[str, str] = {}
        self._splits: dict[tuple[str, str], AliasSplit] = {}
        self._latest: dict[str, int] = {}
        self._mode: SplitMode = split_mode
        self._rng = random.Random(seed)
        # called with the function's name after each of its aliases is written
        self.alias_listeners: list[Callable[[str], None]] = []

    # ---- writes ------------------------------------------------------------------------

    def set_routes(
        self,
        routes: Sequence[RouteSpec],
        aliases: Mapping[str, str],
        access_logs: Mapping[str, AccessLogSpec] | None = None,
    ) -> None:
        """Replace every route. ``aliases``: function -> the alias its routes invoke
        (AutoPublishAlias); a function absent from it is invoked at its latest version.
        ``access_logs``: each API's (by id) stage access logs."""
        router = Router(routes, access_logs)
        self._route_alias = dict(aliases)
        self.router = router

    def set_alias(self, alias: Alias) -> None:
        """Point an alias; the very next request routed uses it, with a fresh split."""
        self._splits[(alias.function, alias.name)] = AliasSplit(alias, self._mode, self._rng)
        for listener in self.alias_listeners:
            listener(alias.function)

    def set_latest(self, function: str, version: int) -> None:
        self._latest[function] = version

    def set_split_mode(self, mode: SplitMode, seed: int | None = None) -> None:
        """Switch deterministic/random splitting; every alias restarts its split."""
        self._mode = mode
        self._rng = random.Random(seed)
        for key, split in list(self._splits.items()):
            self._splits[key] = AliasSplit(split.alias, mode, self._rng)

    # ---- reads -------------------------------------------------------------------------

    @property
    def split_mode(self) -> SplitMode:
        return self._mode

    def alias(self, function: str, name: str) -> Alias | None:
        split = self._splits.get((function, name))
        return split.alias if split is not None else None

    def latest(self, function: str) -> int | None:
        return self._latest.get(function)

    def routed_versions(self, function: str) -> set[int]:
        """Every version of ``function`` some alias sends traffic to, and its latest when
        its routes (or, for a function without routes, its callers) invoke $LATEST."""
        out = {v for (fn, _), s in self._splits.items() if fn == function for v in s.versions()}
        latest = self._latest.get(function)
        if latest is not None and function not in self._route_alias:
            out.add(latest)
        return out

    def route_alias(self, function: str) -> str | None:
        """The alias the routes of ``function`` invoke, None for $LATEST."""
        return self._route_alias.get(function)

    def choose(self, function: str, *, pin: str | None = None) -> tuple[int, str | None]:
        """(version, alias name) for one request to ``function``'s routes.

        Raises NotFound when the function has no version (or its alias does not exist
        yet) and InvalidRequest when ``pin`` names a version the alias does not route to.
        """
        name = self._route_alias.get(function)
        if name is None:
            latest = self._latest.get(function)
            if pin is not None:
                return resolve_pin(None, latest, pin, function), None
            if latest is None:
                raise NotFound(f"{function} has no published version")
            return latest, None
        return self.choose_alias(function, name, pin=pin), name

    def target(self, function: str, qualifier: str | None) -> tuple[int, str | None]:
        """(version, alias name) an invocation of ``function`` at ``qualifier`` runs (an
        alias, by its split; a version number; ``None``: the latest version), as Lambda
        resolves a function ARN. Raises NotFound when there is nothing to run."""
        if qualifier is None:
            latest = self._latest.get(function)
            if latest is None:
                raise NotFound(f"{function} has no published version")
            return latest, None
        if qualifier.isdigit():
            return int(qualifier), None
        return self.choose_alias(function, qualifier), qualifier

    def choose_alias(self, function: str, name: str, *, pin: str | None = None) -> int:
        """The version one invocation of ``function:name`` runs, by the alias's split."""
        split = self._splits.get((function, name))
        if split is None:
            raise NotFound(f"alias {function}:{name} does not exist")
        if pin is not None:
            return resolve_pin(split.alias, None, pin, function)
        return split.pick()
