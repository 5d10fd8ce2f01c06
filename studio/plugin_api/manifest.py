"""The plugin manifest: ``studio-plugin.toml``, read without importing the plugin.

Every plugin ships one manifest next to its code. Studio lists plugins, explains why one is
disabled, and decides whether it can run, from the manifest alone; the plugin's Python code is
imported only when its options or a run are needed. Example::

    id = "acme.writer"                 # unique; lowercase letters, digits, '.', '-', '_'
    name = "Acme writer"               # shown in the model picker
    version = "1.2.0"
    api_version = 1                    # the plugin API this plugin was written for
    panels = ["writing"]               # writing, image, voice and/or captioning
    licence = "Apache-2.0"             # licence of the plugin code
    author = "Acme Ltd <dev@acme.test>"   # optional; shown before installing
    entry = "acme_writer.plugin:AcmeWriter"   # module:class, a ModelPlugin subclass
    description = "Writes like Acme."
    requires = ["transformers>=5"]     # Python requirements, checked before import
    model_formats = ["transformers"]   # what its model option loads, as the model library
                                       # names formats: GGUF, safetensors, diffusers,
                                       # transformers, Coqui TTS, ONNX, ncnn, pickle; the
                                       # panel's model picker lists the library's models of
                                       # these formats (every format of the panel if absent)

    [needs]
    network = false                    # true if it talks to a server (asked of the user)
    libraries = ["libomp.so.5"]        # shared libraries it loads (checked, explained)
    programs = ["ffmpeg"]              # programs it starts, found on PATH (checked)
    files = []                         # other files it needs, in words

    [[models]]                         # models the plugin knows by id (optional)
    id = "acme-small"
    name = "Acme small (embedded)"
    licence = "MIT"
    embedded = true                    # ships in a package; the first embedded model that
                                       # passes its engine checks here is the default
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.plugin_api.kinds import Panel

MANIFEST_NAME = "studio-plugin.toml"

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True, kw_only=True)
class KnownModel:
    """A model a plugin can load by id, without the user picking files."""

    id: str
    name: str
    licence: str = ""
    embedded: bool = False
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Needs:
    """What a plugin needs beyond Python packages."""

    network: bool = False
    libraries: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A parsed, validated ``studio-plugin.toml``."""

    id: str
    name: str
    version: str
    api_version: int
    panels: tuple[Panel, ...]
    licence: str
    entry: str
    description: str = ""
    author: str = ""
    requires: tuple[str, ...] = ()
    needs: Needs = Needs()
    models: tuple[KnownModel, ...] = ()
    model_formats: tuple[str, ...] = ()

    @property
    def panel(self) -> Panel:
        """The first (main) panel."""
        return self.panels[0]

    @property
    def entry_module(self) -> str:
        return self.entry.partition(":")[0]

    @property
    def entry_class(self) -> str:
        return self.entry.partition(":")[2]


def _take(
    table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...
) -> Any:
    if key not in table:
        if default is ...:
            raise ManifestError(f"{where}: missing required key '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) and kind is int:
        raise ManifestError(f"{where}: '{key}' must be a whole number")
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _take(table, key, list, where, [])
    if not all(isinstance(v, str) for v in values):
        raise ManifestError(f"{where}: '{key}' must be a list of strings")
    return tuple(values)


def parse_manifest(data: dict[str, Any], where: str = "manifest") -> Manifest:
    """Validate manifest data (already parsed from TOML)."""
    plugin_id = _take(data, "id", str, where)
    if not _ID.match(plugin_id):
        raise ManifestError(
            f"{where}: id {plugin_id!r} must be lowercase letters, digits, '.', '-' or '_'"
        )
    entry = _take(data, "entry", str, where)
    if not _ENTRY.match(entry):
        raise ManifestError(f"{where}: entry {entry!r} must look like 'package.module:ClassName'")
    panel_names = _strings(data, "panels", where)
    if not panel_names:
        raise ManifestError(f"{where}: 'panels' must name at least one panel")
    try:
        panels = tuple(Panel(name) for name in panel_names)
    except ValueError:
        known = ", ".join(p.value for p in Panel)
        raise ManifestError(
            f"{where}: unknown panel in {list(panel_names)} (known: {known})"
        ) from None

    needs_table = _take(data, "needs", dict, where, {})
    needs = Needs(
        network=_take(needs_table, "network", bool, f"{where} [needs]", False),
        libraries=_strings(needs_table, "libraries", f"{where} [needs]"),
        files=_strings(needs_table, "files", f"{where} [needs]"),
        programs=_strings(needs_table, "programs", f"{where} [needs]"),
    )
    models = []
    for index, table in enumerate(_take(data, "models", list, where, [])):
        at = f"{where} [[models]] #{index + 1}"
        if not isinstance(table, dict):
            raise ManifestError(f"{at}: must be a table")
        models.append(
            KnownModel(
                id=_take(table, "id", str, at),
                name=_take(table, "name", str, at),
                licence=_take(table, "licence", str, at, ""),
                embedded=_take(table, "embedded", bool, at, False),
                description=_take(table, "description", str, at, ""),
            )
        )
    return Manifest(
        id=plugin_id,
        name=_take(data, "name", str, where),
        version=_take(data, "version", str, where),
        api_version=_take(data, "api_version", int, where),
        panels=panels,
        licence=_take(data, "licence", str, where),
        entry=entry,
        description=_take(data, "description", str, where, ""),
        author=_take(data, "author", str, where, ""),
        requires=_strings(data, "requires", where),
        needs=needs,
        models=tuple(models),
        model_formats=_strings(data, "model_formats", where),
    )


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file; raises :class:`ManifestError` with a clear reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    return parse_manifest(data, where=str(path))
