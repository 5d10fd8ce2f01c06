"""What the window and a model process say to each other over their pipe: frozen, picklable
messages, one class each (studio.core.process_host is the parent's side, studio.core.process_child
the child's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studio.core.jobs import Job, JobEvent, ProducedAsset

# The parent to the child ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    """Run this (checked) job; answer with events, assets, then one end message."""

    job: Job


@dataclass(frozen=True)
class PreparePlugin:
    """Import the plugin's libraries now; with ``load_options``, also load that model (a
    warm-up, on ``device``)."""

    plugin_id: str
    load_options: Mapping[str, Any] | None = None
    device: str = "auto"


@dataclass(frozen=True)
class AssetStored:
    """The answer to :class:`AssetReady`: the result is committed as this asset."""

    asset_id: str


@dataclass(frozen=True)
class AssetRefused:
    """The answer to :class:`AssetReady`: the result could not be committed (why)."""

    message: str


@dataclass(frozen=True)
class Stop:
    """Unload everything and end."""


@dataclass(frozen=True)
class UnloadModel:
    """Unload this model (the window's budget needs the room); answered by
    :class:`ModelUnloaded`, or :class:`ModelKept` when a job is using it."""

    key: str


@dataclass(frozen=True)
class RoomMade:
    """The answer to :class:`RoomFor` and :class:`ModelLoaded`: the budget made room
    elsewhere; unload these models of this process first."""

    unload: tuple[str, ...] = ()
    refused: bool = False
    """An optional load (a warm-up) that does not fit: do not load it."""


ToChild = RunJob | PreparePlugin | AssetStored | AssetRefused | Stop | UnloadModel | RoomMade

# The child to the parent ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventMessage:
    """Progress, streamed text or a preview of the running job."""

    event: JobEvent


@dataclass(frozen=True)
class AssetReady:
    """A finished result to commit; the child waits for :class:`AssetStored` or
    :class:`AssetRefused` before it goes on."""

    produced: ProducedAsset


@dataclass(frozen=True)
class JobDone:
    """The job ended with its final result."""


@dataclass(frozen=True)
class JobCancelledMessage:
    """The job stopped at a cancel (the results committed before stay)."""


@dataclass(frozen=True)
class JobRefused:
    """The user's input or options cannot work (one sentence for the user)."""

    message: str


@dataclass(frozen=True)
class JobError:
    """The job failed (a readable message; the traceback is in the log)."""

    message: str


@dataclass(frozen=True)
class Prepared:
    """The answer to :class:`PreparePlugin`: done (the warm-up load too, if one was asked)."""


@dataclass(frozen=True)
class RoomFor:
    """About to load a model of about ``estimate`` bytes: the child waits for
    :class:`RoomMade`."""

    key: str
    label: str
    estimate: int
    optional: bool = False
    """A warm-up: refused rather than push another model out."""


@dataclass(frozen=True)
class ModelLoaded:
    """A model is loaded and takes ``size`` bytes; the child waits for :class:`RoomMade`."""

    key: str
    label: str
    size: int
    optional: bool = False
    """A warm-up: if it does not fit, the answer asks it to unload itself."""


@dataclass(frozen=True)
class ModelLoadFailed:
    key: str


@dataclass(frozen=True)
class ModelUsed:
    """A job used this loaded model (it is the most recently used now)."""

    key: str


@dataclass(frozen=True)
class ModelUnloaded:
    key: str


@dataclass(frozen=True)
class ModelKept:
    """The answer to :class:`UnloadModel` when a job is using the model."""

    key: str


JobMessage = EventMessage | AssetReady | JobDone | JobCancelledMessage | JobRefused | JobError
"""What the child says about the job it runs."""

BudgetMessage = RoomFor | ModelLoaded | ModelLoadFailed | ModelUsed | ModelUnloaded | ModelKept
"""What the child says about its models (for the window's one budget)."""

ToParent = JobMessage | BudgetMessage | Prepared
