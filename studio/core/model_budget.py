"""One memory budget for the models of every process a front end runs.

Each panel's models load in a model process of its own (and, when the preference says so, in
the window's own process). Each process keeps a :class:`~studio.core.model_cache.ModelCache`,
but none decides alone: every cache reports each model it loads, uses and unloads to the one
:class:`ModelBudget` of the window (or of a command-line run), and asks it before a load. When a
load would go over the budget, the budget asks the least recently used models that no job is
using, in whichever process, to unload first; the owner unloads them and says so.

An owner is a name ("window", or a model process's) with a function that asks it to unload one
model: it answers False when it cannot now (a job runs there), and the budget tries the next.
The requesting owner's own models are returned to it to unload itself, since it is busy asking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Unloader = Callable[[str], bool]
"""Asks an owner to unload one model (by key); True once it is unloaded."""


@dataclass
class HeldModel:
    """A model loaded in some process, as the budget sees it."""

    owner: str
    key: str
    label: str
    size: int
    last_used: float
    pinned: int = 0


class ModelBudget:
    """The models loaded in all of a front end's processes, within one budget (thread-safe)."""

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], HeldModel] = {}
        self._owners: dict[str, Unloader] = {}
        self._known_sizes: dict[str, int] = {}

    # owners -----------------------------------------------------------------------------------

    def add_owner(self, owner: str, unload: Unloader) -> None:
        with self._lock:
            self._owners[owner] = unload

    def forget_owner(self, owner: str) -> None:
        """The owner's process ended: its models are gone."""
        with self._lock:
            for key in [k for k in self._held if k[0] == owner]:
                del self._held[key]
            self._owners.pop(owner, None)

    # what the caches report -------------------------------------------------------------------

    def before_load(
        self, owner: str, key: str, label: str, estimate: int, optional: bool = False
    ) -> list[str] | None:
        """``owner`` is about to load ``key`` (about ``estimate`` bytes, or what it took last
        time): make room by unloading least recently used models elsewhere, and return the
        owner's own models it should unload first. The model is pinned until :meth:`loaded`.
        ``optional`` (a warm-up nobody waits for): None, and nothing unloaded, when it does not
        fit beside what is loaded; a warm-up never pushes out a model someone used."""
        with self._lock:
            estimate = max(estimate, self._known_sizes.get(key, 0))
            if optional and sum(h.size for h in self._held.values()) + estimate > self._budget:
                log.info("warm-up of %s skipped: it does not fit in the budget now", label)
                return None
            self._held[(owner, key)] = HeldModel(
                owner, key, label, estimate, time.monotonic(), pinned=1
            )
        own = self._make_room(owner)
        return own

    def loaded(
        self, owner: str, key: str, label: str, size: int, optional: bool = False
    ) -> list[str]:
        """``owner`` loaded ``key``, which takes ``size`` bytes: the owner's own models to
        unload if that went over the budget (others are asked here). An ``optional`` load
        (a warm-up) that turned out bigger than there is room for unloads itself instead."""
        with self._lock:
            # The most it ever took: a reload into memory the allocator kept from the last
            # unload grows the process less than the model really takes.
            size = max(size, self._known_sizes.get(key, 0))
            self._known_sizes[key] = size
            held = self._held.get((owner, key))
            if held is None:
                held = self._held[(owner, key)] = HeldModel(owner, key, label, size, 0.0)
            held.size, held.label, held.last_used = size, label, time.monotonic()
            held.pinned = 0
            if optional and sum(h.size for h in self._held.values()) > self._budget:
                log.info("warm-up of %s unloads again: it is bigger than there is room", label)
                return [key]
        own = self._make_room(owner)
        return own

    def load_failed(self, owner: str, key: str) -> None:
        with self._lock:
            self._held.pop((owner, key), None)

    def used(self, owner: str, key: str) -> None:
        with self._lock:
            held = self._held.get((owner, key))
            if held is not None:
                held.last_used = time.monotonic()

    def unloaded(self, owner: str, key: str) -> None:
        with self._lock:
            self._held.pop((owner, key), None)

    # the budget -------------------------------------------------------------------------------

    @property
    def budget_bytes(self) -> int:
        return self._budget

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        """A new budget applies at once: models over it are unloaded now."""
        self._budget = value
        self.enforce()

    def enforce(self) -> None:
        """Unload least recently used models until the total fits (where owners can)."""
        self._make_room(None)

    def _make_room(self, requester: str | None) -> list[str]:
        own: list[str] = []  # the requester's own models, for it to unload (still counted
        # until it reports them unloaded: it may not be able to, if a job uses one)
        asked: set[tuple[str, str]] = set()
        while True:
            with self._lock:
                total = sum(
                    h.size
                    for k, h in self._held.items()
                    if not (k[0] == requester and h.key in own)
                )
                if total <= self._budget:
                    return own
                victims = sorted(
                    (h for k, h in self._held.items() if h.pinned == 0 and k not in asked),
                    key=lambda h: h.last_used,
                )
                if not victims:
                    log.info(
                        "models take %.0f MB, over the budget of %.0f MB: all are in use",
                        total / 1e6,
                        self._budget / 1e6,
                    )
                    return own
                victim = victims[0]
                asked.add((victim.owner, victim.key))
                if victim.owner == requester:
                    own.append(victim.key)
                    continue
                unload = self._owners.get(victim.owner)
            log.info(
                "unloading %s from %s (least recently used) to stay within %.0f MB",
                victim.label,
                victim.owner,
                self._budget / 1e6,
            )
            try:
                gone = unload is not None and unload(victim.key)
            except Exception:
                log.exception("asking %s to unload %s failed", victim.owner, victim.label)
                gone = False
            if gone:
                with self._lock:
                    self._held.pop((victim.owner, victim.key), None)

    # what the user asks ------------------------------------------------------------------------

    def unload(self, owner: str, key: str) -> bool:
        """Ask ``owner`` to unload ``key`` now (the Models view's Unload): True once it is gone;
        False when a job is using it (or the owner is gone)."""
        with self._lock:
            held = self._held.get((owner, key))
            unload = self._owners.get(owner)
            if held is None or held.pinned or unload is None:
                return False
        try:
            gone = bool(unload(key))
        except Exception:
            log.exception("asking %s to unload %s failed", owner, held.label)
            return False
        if gone:
            with self._lock:
                self._held.pop((owner, key), None)
        return gone

    def unload_idle(self, idle_seconds: float, now: float | None = None) -> list[str]:
        """Unload every model nobody used for ``idle_seconds`` (and no job holds); the labels
        of those unloaded."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [
                (h.owner, h.key, h.label)
                for h in self._held.values()
                if h.pinned == 0 and now - h.last_used >= idle_seconds
            ]
        gone = []
        for owner, key, label in idle:
            if self.unload(owner, key):
                log.info("unloaded %s: unused for %.0f minutes", label, idle_seconds / 60)
                gone.append(label)
        return gone

    # what the window shows --------------------------------------------------------------------

    def held(self) -> list[HeldModel]:
        """The loaded models, most recently used first."""
        with self._lock:
            return sorted(
                (HeldModel(**vars(h)) for h in self._held.values()),
                key=lambda h: -h.last_used,
            )

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(h.size for h in self._held.values())


class OwnerReports:
    """A cache in the budget's own process, reporting straight to it
    (:class:`~studio.core.model_cache.CacheReports`)."""

    def __init__(self, budget: ModelBudget, owner: str) -> None:
        self.budget = budget
        self.owner = owner

    def before_load(
        self, key: str, label: str, estimate: int, optional: bool = False
    ) -> list[str] | None:
        return self.budget.before_load(self.owner, key, label, estimate, optional)

    def loaded(self, key: str, label: str, size: int, optional: bool = False) -> list[str]:
        return self.budget.loaded(self.owner, key, label, size, optional)

    def load_failed(self, key: str) -> None:
        self.budget.load_failed(self.owner, key)

    def used(self, key: str) -> None:
        self.budget.used(self.owner, key)

    def unloaded(self, key: str) -> None:
        self.budget.unloaded(self.owner, key)
