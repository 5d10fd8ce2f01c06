"""Every model Studio can use on this machine, per panel: the library.

- **embedded**: the models the installed plugins ship (manifest ``[[models]]`` with
  ``embedded = true``);
- **imported**: what the user picked or dropped (``ModelLibrary``);
- **found**: what the Hugging Face cache, AUTOMATIC1111, ComfyUI, InvokeAI, LM Studio, Ollama
  and Coqui hold at their usual places, and what the user's own model folders hold
  (:mod:`studio.core.model_scan.places`).

Each is described by its files (:mod:`studio.core.model_scan.describe`); a model reached from
two sources is listed once, under the first. A scan reads headers and configs only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from studio.core.model_library import ModelLibrary
from studio.core.model_scan.describe import ModelFacts, describe
from studio.core.model_scan.places import SOURCE_LABELS, Found, Place, default_places, models_in
from studio.core.registry import PluginRegistry
from studio.plugin_api import KnownModel, Panel


@dataclass(frozen=True)
class EmbeddedModel:
    """A model a plugin ships, by the plugin that ships it."""

    plugin_id: str
    plugin_name: str
    panel: Panel
    model: KnownModel


@dataclass(frozen=True)
class LibraryEntry:
    """One model of the library."""

    key: str
    """The path of its files, or ``plugin-id:model-id`` for an embedded model."""
    name: str
    source: str
    panels: tuple[Panel, ...]
    facts: ModelFacts | None = None
    """None for an embedded model (its plugin finds its files)."""
    plugin_id: str = ""
    plugin_name: str = ""
    licence: str = ""

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def usable(self) -> bool:
        return self.facts is None or self.facts.usable

    @property
    def path(self) -> Path | None:
        return self.facts.path if self.facts else None

    @property
    def value(self) -> str:
        """What a panel's ``model`` option takes for it: the path, or the known id."""
        return str(self.facts.path) if self.facts else self.key.split(":", 1)[1]

    def to_json(self) -> dict:
        facts = self.facts
        data: dict = {
            "key": self.key,
            "name": self.name,
            "source": self.source,
            "panels": [panel.value for panel in self.panels],
            "usable": self.usable,
            "licence": self.licence,
        }
        if self.plugin_id:
            data["plugin_id"] = self.plugin_id
        if facts is not None:
            data |= {
                "path": str(facts.path),
                "format": facts.format,
                "kind": facts.kind,
                "architecture": facts.architecture,
                "quantisation": facts.quantisation,
                "parameters": facts.parameters,
                "size": facts.size,
                "files": facts.files,
                "problems": [
                    {"kind": p.kind, "message": p.message, "blocking": p.blocking}
                    for p in facts.problems
                ],
                "pickle_findings": list(facts.pickle_findings),
            }
        return data


def _found_entry(found: Found) -> LibraryEntry:
    facts = describe(found.path)
    return LibraryEntry(
        key=str(found.path),
        name=found.name,
        source=found.source,
        panels=facts.panels,
        facts=facts,
        licence=facts.licence,
    )


def scan_library(
    places: Iterable[Place],
    imported: Iterable[Path] = (),
    embedded: Iterable[EmbeddedModel] = (),
) -> list[LibraryEntry]:
    """The library: embedded models, then imported ones, then what the places hold."""
    entries: list[LibraryEntry] = [
        LibraryEntry(
            key=f"{item.plugin_id}:{item.model.id}",
            name=item.model.name or item.model.id,
            source="embedded",
            panels=(item.panel,),
            plugin_id=item.plugin_id,
            plugin_name=item.plugin_name,
            licence=item.model.licence,
        )
        for item in embedded
    ]
    seen: set[Path] = set()

    def fresh(path: Path) -> bool:
        try:
            real = path.resolve()
        except OSError:
            real = path
        if real in seen:
            return False
        seen.add(real)
        return True

    for path in imported:
        if Path(path).exists() and fresh(Path(path)):
            entries.append(_found_entry(Found(Path(path), Path(path).name, "imported")))
    for place in places:
        for found in models_in(place):
            if fresh(found.path):
                entries.append(_found_entry(found))
    return entries


def for_panel(entries: Iterable[LibraryEntry], panel: Panel) -> list[LibraryEntry]:
    return [entry for entry in entries if panel in entry.panels]


ADD_ON_KINDS = frozenset({"LoRA", "VAE"})
"""Kinds that add to a model rather than stand alone: never offered as a panel's model."""


def for_model_picker(
    entries: Iterable[LibraryEntry], panel: Panel, formats: Iterable[str] = ()
) -> list[LibraryEntry]:
    """The found and imported models a plugin of ``panel`` can take as its ``model``: the
    panel's models of one of ``formats`` (the plugin's manifest ``model_formats``; every
    format when empty), without add-ons (LoRAs, VAEs), grouped by source in library order."""
    wanted = {name.casefold() for name in formats}
    chosen = [
        entry
        for entry in entries
        if entry.facts is not None
        and panel in entry.panels
        and entry.facts.kind not in ADD_ON_KINDS
        and (not wanted or entry.facts.format.casefold() in wanted)
    ]
    order = list(dict.fromkeys(entry.source for entry in chosen))
    return sorted(chosen, key=lambda entry: order.index(entry.source))


def loras_for(entries: Iterable[LibraryEntry]) -> list[LibraryEntry]:
    """The library's Stable Diffusion LoRAs, by name."""
    found = [
        entry
        for entry in entries
        if entry.facts is not None and entry.facts.kind == "LoRA" and entry.usable
    ]
    return sorted(found, key=lambda entry: entry.name.casefold())


def embedded_models(registry: PluginRegistry) -> list[EmbeddedModel]:
    """The models the enabled plugins ship, read from their manifests (no plugin is imported)."""
    found = []
    for record in registry.records():
        if not record.enabled or record.manifest is None:
            continue
        for model in record.manifest.models:
            if model.embedded:
                found.append(EmbeddedModel(record.id, record.name, record.panels[0], model))
    return found


def library_places(
    library: ModelLibrary, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[Place]:
    """The peers' places on this machine, then the user's own model folders."""
    return [
        *default_places(environ, home),
        *(Place("folder", folder) for folder in library.folders() if folder.is_dir()),
    ]


def scan_machine(
    registry: PluginRegistry,
    library: ModelLibrary,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[LibraryEntry]:
    """The whole library of this machine."""
    return scan_library(
        library_places(library, environ, home),
        imported=[Path(entry.path) for entry in library.all_entries()],
        embedded=embedded_models(registry),
    )
