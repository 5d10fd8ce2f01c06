"""Turn the ``model`` load option into files on disk, before any plugin loads anything.

The value is a local file or folder, or the id of a model the plugin's manifest lists; empty
means the plugin's embedded default. Nothing here reaches for the network: a model that is
not on this machine is a clear error naming what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from studio.core.engine_checks import EngineUnusable
from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.plugin_api import KnownModel, Manifest, ModelPlugin, ResolvedModel


class ModelResolver:
    """Resolves ``model`` values for a plugin; ``hasher`` gives a file's or folder's sha256."""

    def __init__(self, paths: Paths, hasher: Callable[[Path], str]) -> None:
        self.paths = paths
        self.hasher = hasher

    def resolve(
        self,
        manifest: Manifest,
        plugin: ModelPlugin,
        value: str,
        usable: Callable[[KnownModel], str] | None = None,
    ) -> ResolvedModel:
        """The files of ``value``. Empty is the default: the first embedded model, in the
        manifest's order, for which ``usable`` finds nothing against it (it returns why a model
        cannot run here, or "")."""
        value = (value or "").strip()
        takes_model = "model" in plugin.load_options
        known = {model.id: model for model in manifest.models}
        if not value:
            embedded = [m for m in manifest.models if m.embedded]
            reasons = []
            for default in embedded:
                reason = usable(default) if usable is not None else ""
                if not reason:
                    return self._known(manifest, plugin, default)
                reasons.append(reason)
            if reasons:
                raise EngineUnusable(
                    f"None of the models of {manifest.name} works on this machine: "
                    + " ".join(reasons)
                )
            if takes_model:
                raise UserError(
                    f"The plugin '{manifest.id}' has no embedded model: choose a model folder "
                    "or file (the 'model' option)."
                )
            return ResolvedModel(id="")
        if value in known:
            return self._known(manifest, plugin, known[value])
        path = Path(value).expanduser()
        if path.exists():
            path = path.resolve()
            if not os.access(path, os.R_OK):
                raise UserError(f"The model {path} cannot be read (permission denied).")
            try:
                sha256 = self.hasher(path)
            except FileNotFoundError:
                # No weights to hash (an empty folder, a folder given for a file): the plugin
                # says what it expected when it looks at the path.
                sha256 = None
            return ResolvedModel(id=str(path), path=path, sha256=sha256)
        if os.sep in value or value.startswith((".", "~")) or path.suffix:
            raise UserError(f"The model file or folder {value} does not exist.")
        choices = ", ".join(known) or "none"
        raise UserError(
            f"Unknown model '{value}' for the plugin '{manifest.id}': give a local folder or "
            f"file, or one of its models ({choices})."
        )

    def _known(self, manifest: Manifest, plugin: ModelPlugin, model: KnownModel) -> ResolvedModel:
        cache_dir = self.paths.data_dir / "models" / manifest.id
        try:
            path = plugin.known_model_path(model, cache_dir)
        except FileNotFoundError as exc:
            raise UserError(
                str(exc).strip("'\"") or f"The model '{model.id}' is not installed."
            ) from exc
        if not path.exists():
            raise UserError(f"The model '{model.id}' should be at {path}, but that is missing.")
        return ResolvedModel(
            id=model.id,
            path=path,
            sha256=self.hasher(path),
            licence=model.licence,
            embedded=model.embedded,
        )
