"""From user input to committed assets: building jobs, recording recipes, running them again.

Shared by the panels and ``studio generate``: the request is built from named values, input
files are imported into the project first (so lineage points at real assets), every finished
asset is committed with its recipe, and a recipe can be turned back into the same job.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from studio.core.errors import UserError
from studio.core.hashing import sha256_bytes
from studio.core.jobs import Job, ProducedAsset
from studio.core.media.detect import format_for_media_type, sniff_format
from studio.core.media.importing import read_media_file
from studio.core.project.store import ProjectStore
from studio.core.recipe import Recipe, RecipeInput, RecipeOrigin, thaw_json
from studio.plugin_api import (
    REQUEST_TYPE_FOR_PANEL,
    InputMedia,
    OptionError,
    Panel,
    Request,
)

log = logging.getLogger(__name__)

DEFAULT_INPUT_ROLE: dict[Panel, str] = {
    Panel.WRITING: "source",
    Panel.IMAGE: "init",
    Panel.VOICE: "reference",
    Panel.CAPTIONING: "image",
}


def request_values(request: Request) -> dict[str, Any]:
    """The request's own fields (inputs are recorded as lineage, not here)."""
    return {name: getattr(request, name) for name in request.field_names()}


def build_request(panel: Panel, values: Mapping[str, Any], inputs: Sequence[InputMedia]) -> Request:
    """The panel's request from field values; unknown fields are a :class:`UserError`."""
    request_type = REQUEST_TYPE_FOR_PANEL[panel]
    known = {f.name: f for f in fields(request_type) if f.name != "inputs"}
    for name, value in values.items():
        if name not in known:
            raise UserError(f"A {panel.value} request has no field '{name}'.")
        if not isinstance(value, str):
            raise UserError(f"The request field '{name}' must be text.")
    return request_type(inputs=tuple(inputs), **values)


def recipe_for(produced: ProducedAsset, details: Mapping[str, Any] | None = None) -> Recipe:
    """The recipe of a produced asset: everything needed to make it again."""
    job, asset = produced.job, produced.asset
    used_roles = set(asset.input_roles)
    lineage = tuple(
        RecipeInput(asset_id=item.asset_id, role=item.role)
        for item in job.request.inputs
        if item.asset_id and (not used_roles or item.role in used_roles)
    )
    seed = asset.seed if asset.seed is not None else produced.run_options.get("seed")
    return Recipe(
        origin=RecipeOrigin.GENERATED,
        panel=job.panel,
        plugin_id=job.plugin_id,
        plugin_version=produced.plugin_version,
        model_id=produced.model.id,
        model_sha256=produced.model.sha256 or "",
        model_licence=produced.model.licence,
        load_options=dict(produced.load_options),
        run_options=dict(produced.run_options),
        request=request_values(job.request),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        inputs=lineage,
        details={**asset.details, **(details or {}), "device": job.device},
    )


class StoreSink:
    """Commits produced assets to a project, each the moment it is finished."""

    def __init__(self, store: ProjectStore, details: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.details = dict(details or {})

    def __call__(self, produced: ProducedAsset) -> str:
        asset = produced.asset
        title = asset.title or _title_from(produced)
        stored = self.store.add_asset(
            kind=asset.kind,
            data=asset.data,
            media_type=asset.media_type,
            recipe=recipe_for(produced, self.details),
            title=title,
        )
        return stored.id


def _title_from(produced: ProducedAsset) -> str:
    values = request_values(produced.job.request)
    text = next((str(v) for v in values.values() if v), "") or produced.job.plugin_id
    return " ".join(text.split())[:60]


def import_inputs(
    store: ProjectStore, inputs: Sequence[tuple[str, Path]]
) -> tuple[InputMedia, ...]:
    """Import input files into the project (each checked completely first) as lineage.

    A file whose content the project already holds is that asset: it passed the full check
    when it was stored (or a plugin made it), so it is not decoded again. An init image with
    its mask is always checked as a pair.
    """
    pair = {"init", "mask"} <= {role for role, _ in inputs}
    read = []
    for role, path in inputs:  # all checked before any write
        data = _bytes_of(Path(path))
        stored = None if pair or data is None else _stored_content(store, data)
        read.append((role, stored, None if stored else read_media_file(path, data)))
    check_mask_size([(role, item) for role, _, item in read if item is not None])
    result = []
    for (role, stored, item), (_, path) in zip(read, inputs, strict=True):
        if stored is None:
            # The same picture used again (each Run of a panel, say) is the asset it already is.
            stored = store.find_by_content(sha256_bytes(item.data), item.kind) or store.add_asset(
                kind=item.kind,
                data=item.data,
                media_type=item.media_type,
                recipe=item.recipe(),
                title=item.title,
            )
        result.append(
            InputMedia(
                role=role,
                path=Path(path),
                kind=stored.kind,
                media_type=stored.media_type,
                asset_id=stored.id,
            )
        )
    return tuple(result)


def _bytes_of(path: Path) -> bytes | None:
    """The file's bytes, or None when it cannot be read (the full check then says why)."""
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _stored_content(store: ProjectStore, data: bytes) -> Any:
    """The live asset with exactly this binary media content, if the project holds one."""
    fmt = sniff_format(data)
    return store.find_by_content(sha256_bytes(data), fmt.kind) if fmt is not None else None


def check_mask_size(media: Sequence[tuple[str, Any]]) -> None:
    """A ``mask`` input is painted over the ``init`` image: refuse one of another size before
    anything is imported (``media``: role and checked :class:`MediaFile` pairs)."""
    by_role = {role: item for role, item in media}
    init, mask = by_role.get("init"), by_role.get("mask")
    if init is None or mask is None:
        return
    init_size = (init.facts.get("width"), init.facts.get("height"))
    mask_size = (mask.facts.get("width"), mask.facts.get("height"))
    if None not in init_size + mask_size and init_size != mask_size:
        raise UserError(
            f"The mask {mask.path.name} is {mask_size[0]}×{mask_size[1]} pixels but the init "
            f"image {init.path.name} is {init_size[0]}×{init_size[1]}: a mask must have the "
            "init image's size. Nothing was imported."
        )


def asset_inputs(
    store: ProjectStore, links: Sequence[RecipeInput], workdir: Path
) -> tuple[InputMedia, ...]:
    """Write project assets to files in ``workdir`` and describe them as request inputs."""
    result = []
    for index, link in enumerate(links):
        asset = store.get_asset(link.asset_id)
        fmt = format_for_media_type(asset.media_type)
        suffix = fmt.extension if fmt else ".bin"
        path = workdir / f"input-{index}{suffix}"
        path.write_bytes(store.read_blob(asset.id))
        result.append(
            InputMedia(
                role=link.role,
                path=path,
                kind=asset.kind,
                media_type=asset.media_type,
                asset_id=asset.id,
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class Rerun:
    """A job rebuilt from a recipe; its input files live in ``workdir`` until it is closed."""

    job: Job
    recipe: Recipe
    workdir: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        self.workdir.cleanup()


def job_from_recipe(store: ProjectStore, asset_id: str, device: str | None = None) -> Rerun:
    """The job that made ``asset_id``, with the same plugin, model, options, seed and inputs."""
    recipe = store.get_asset(asset_id).recipe
    if recipe.origin is not RecipeOrigin.GENERATED or recipe.panel is None:
        how = "written" if recipe.origin is RecipeOrigin.WRITTEN else "imported"
        raise UserError(f"The asset {asset_id} was {how}, not generated: it has no job to repeat.")
    workdir = tempfile.TemporaryDirectory(prefix="studio-rerun-")
    try:
        inputs = asset_inputs(store, recipe.inputs, Path(workdir.name))
        request_type = REQUEST_TYPE_FOR_PANEL[recipe.panel]
        known = set(request_type.field_names())
        values = {k: v for k, v in thaw_json(recipe.request).items() if k in known}
        run_options = thaw_json(recipe.run_options)
        if recipe.seed is not None and "seed" in run_options:
            # One asset of a batch: its own seed, made once (not the whole batch again).
            run_options["seed"] = recipe.seed
            if "variations" in run_options:
                run_options["variations"] = 1
        job = Job(
            plugin_id=recipe.plugin_id,
            panel=recipe.panel,
            request=build_request(recipe.panel, values, inputs),
            load_options=thaw_json(recipe.load_options),
            run_options=run_options,
            device=device or str(recipe.details.get("device") or "auto"),
        )
    except BaseException:
        workdir.cleanup()
        raise
    return Rerun(job=job, recipe=recipe, workdir=workdir)


def split_settings(
    plugin_load: Any, plugin_run: Any, panel: Panel, assignments: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Sort ``KEY=VALUE`` settings into load options, run options and request fields.

    A key must name exactly one of them; values are parsed by the option's type.
    """
    request_fields = set(REQUEST_TYPE_FOR_PANEL[panel].field_names())
    load: dict[str, Any] = {}
    run: dict[str, Any] = {}
    request: dict[str, str] = {}
    for key, text in assignments:
        homes = [
            name
            for name, present in (
                ("load options", key in plugin_load),
                ("run options", key in plugin_run),
                ("request", key in request_fields),
            )
            if present
        ]
        if not homes:
            known = sorted({*plugin_load.names, *plugin_run.names, *request_fields})
            raise UserError(f"Unknown setting '{key}' (known: {', '.join(known)}).")
        if len(homes) > 1:
            raise UserError(
                f"The setting '{key}' is ambiguous: it names both {' and '.join(homes)}."
            )
        try:
            if homes[0] == "load options":
                load[key] = plugin_load.parse(key, text)
            elif homes[0] == "run options":
                run[key] = plugin_run.parse(key, text)
            else:
                request[key] = text
        except OptionError as exc:
            raise UserError(str(exc)) from exc
    return load, run, request
