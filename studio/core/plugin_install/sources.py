"""What the user has, turned into a plugin's install tree in the staging folder.

Sources: a folder (copied), a ``.zip`` (unpacked), a wheel (unpacked; its ``Requires-Dist`` are
requirements too), or a package name on the package index (``pip download --no-deps``, wheels
only, then treated as that wheel). Nothing of the plugin runs: a source package (sdist) is
refused, because building one runs its code.

The plugin is found by its manifest, at the top of what was given or up to three folders down
(a project folder or a zip holding one). Its install tree, ``<staging>/plugin``, becomes
``<data dir>/plugins/<id>/``, the folder put on ``sys.path``:

- a *flat* plugin (its manifest beside its entry module, as in ``docs/plugins.md``) is that
  folder, copied as it is;
- a *package* plugin (its manifest inside the package its entry names, as a wheel ships it)
  is that package under its own name, with the manifest copied to the top of the tree; from a
  wheel, every top-level module of the wheel comes along (its ``.dist-info`` does not).
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from studio.core.errors import UserError
from studio.core.plugin_install.archive import Limits, copy_tree, extract_zip
from studio.core.plugin_install.pip import Pip, pip_error
from studio.core.registry import api_version_reason
from studio.plugin_api.manifest import MANIFEST_NAME, Manifest, ManifestError, parse_manifest

Progress = Callable[[float | None, str], None]

SEARCH_DEPTH = 3
"""How many folders down from what was given the manifest is looked for."""

_NOT_SEARCHED = re.compile(r"^(\..*|__pycache__|build|dist|node_modules|.*\.egg-info|.*\.data)$")

PLUGIN_TREE = "plugin"
"""The install tree's folder in the staging folder."""


@dataclass(frozen=True)
class Prepared:
    """A plugin unpacked into ``<staging>/plugin``, its manifest read and checked."""

    kind: str  # "folder", "zip", "wheel" or "package"
    source: str  # what the user gave: an absolute path, or the package name as given
    manifest: Manifest
    requires: tuple[str, ...]  # the manifest's, then the wheel's or pyproject's (no repeats)
    author: str
    version_note: str = ""  # for a package name: the wheel pip picked


def classify(source: str | Path) -> tuple[str, Path | None]:
    """("folder" | "zip" | "wheel" | "package", the path); a missing path is a UserError."""
    text = str(source)
    path = Path(text).expanduser()
    if isinstance(source, Path) or os.sep in text or text.startswith((".", "~")):
        looks_like_path = True
    else:
        looks_like_path = text.lower().endswith((".zip", ".whl"))
    if path.is_dir():
        return "folder", path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".whl":
            return "wheel", path
        if suffix == ".zip":
            return "zip", path
        raise UserError(
            f"{path.name} is neither a folder, a .zip nor a wheel (.whl); Studio installs plugins "
            "from those or from a package name."
        )
    if path.exists():
        raise UserError(f"{path} is neither a file nor a folder.")
    if looks_like_path:
        raise UserError(f"{path} does not exist.")
    return "package", None


def _leave_out_wheel_metadata(name: str) -> bool:
    return name.endswith((".dist-info", ".data"))


def _find_manifest(root: Path, what: str) -> Path:
    """The one manifest nearest the top of ``root`` (a regular file, not a link)."""
    level = [root]
    for _depth in range(SEARCH_DEPTH + 1):
        found = []
        for folder in level:
            candidate = folder / MANIFEST_NAME
            try:
                mode = candidate.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                raise UserError(f"{what}: its {MANIFEST_NAME} is a link; Studio refuses it.")
            if stat.S_ISREG(mode):
                found.append(candidate)
        if len(found) > 1:
            listed = ", ".join(str(p.relative_to(root)) for p in found[:4])
            raise UserError(f"{what} holds more than one plugin ({listed}); give one of them.")
        if found:
            return found[0]
        below = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            below += [
                Path(e.path)
                for e in entries
                if e.is_dir(follow_symlinks=False) and not _NOT_SEARCHED.match(e.name)
            ]
        level = below
    raise UserError(
        f"{what} holds no {MANIFEST_NAME}, so it is not a Studio plugin (a plugin's manifest "
        "sits beside its code; see docs/plugins.md)."
    )


def _read_manifest(path: Path, root: Path, what: str) -> Manifest:
    shown = path.relative_to(root).as_posix() if path != root else MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        manifest = parse_manifest(data, where=shown)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{what}: its {shown} is not valid TOML ({exc}).") from None
    except ManifestError as exc:
        raise UserError(f"{what} has an invalid manifest: {exc}.") from None
    except OSError as exc:
        raise UserError(f"{what}: its {shown} cannot be read ({exc.strerror or exc}).") from None
    reason = api_version_reason(manifest)
    if reason:
        raise UserError(f"{manifest.name} ({manifest.id}) cannot be installed: {reason}.")
    return manifest


def _package_root(manifest_path: Path, manifest: Manifest, root: Path, what: str) -> Path | None:
    """The package folder (named as the entry's top module) holding a package plugin's
    manifest, or None for a flat plugin (its entry module beside its manifest)."""
    folder = manifest_path.parent
    top = manifest.entry_module.split(".")[0]
    if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
        return None
    for ancestor in (folder, *folder.parents):
        if ancestor.name == top and (ancestor / "__init__.py").is_file():
            return ancestor
        if ancestor == root:
            break
    raise UserError(
        f"{what}: its manifest's entry '{manifest.entry}' names the module '{top}', which is "
        "neither beside the manifest nor the package holding it."
    )


def _build_tree(
    manifest_path: Path,
    manifest: Manifest,
    root: Path,
    staging: Path,
    limits: Limits,
    what: str,
    *,
    wheel: bool,
) -> None:
    tree = staging / PLUGIN_TREE
    package = _package_root(manifest_path, manifest, root, what)
    if package is None:
        copy_tree(
            manifest_path.parent,
            tree,
            limits,
            what,
            leave_out=_leave_out_wheel_metadata if wheel else lambda name: False,
        )
        return
    if wheel:
        copy_tree(package.parent, tree, limits, what, leave_out=_leave_out_wheel_metadata)
    else:
        tree.mkdir()
        copy_tree(package, tree / package.name, limits, what)
    if not (tree / MANIFEST_NAME).exists():
        shutil.copyfile(manifest_path, tree / MANIFEST_NAME)


def _project_dependencies(manifest_path: Path, root: Path, what: str) -> tuple[list[str], str]:
    """[project] dependencies and first author of the nearest pyproject.toml above the
    manifest (within ``root``)."""
    for folder in (manifest_path.parent, *manifest_path.parent.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and not pyproject.is_symlink():
            try:
                project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise UserError(f"{what}: its pyproject.toml cannot be read ({exc}).") from None
            dependencies = project.get("dependencies", [])
            if not isinstance(dependencies, list) or not all(
                isinstance(d, str) for d in dependencies
            ):
                raise UserError(f"{what}: its pyproject.toml's dependencies are not a list.")
            authors = project.get("authors") or [{}]
            first = authors[0] if isinstance(authors, list) and authors else {}
            author = ""
            if isinstance(first, dict):
                name, mail = first.get("name", ""), first.get("email", "")
                author = f"{name} <{mail}>" if name and mail else str(name or mail)
            return dependencies, author
        if folder == root:
            break
    return [], ""


def _wheel_metadata(root: Path, what: str) -> tuple[list[str], str]:
    """Requires-Dist and author of an unpacked wheel."""
    infos = [p for p in root.glob("*.dist-info") if p.is_dir()]
    if len(infos) != 1:
        raise UserError(f"{what} is not a valid wheel (it has {len(infos)} .dist-info folders).")
    try:
        text = (infos[0] / "METADATA").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise UserError(f"{what} is not a valid wheel (its METADATA cannot be read).") from None
    message = email.parser.Parser().parsestr(text, headersonly=True)
    author = message.get("Author") or message.get("Author-email") or ""
    return [str(r) for r in message.get_all("Requires-Dist") or []], str(author)


def _check_wheel_name(path: Path) -> None:
    try:
        _name, _version, _build, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        raise UserError(
            f"{path.name} is not named as a wheel is (NAME-VERSION-TAGS.whl)."
        ) from None
    here = set(sys_tags())
    if not tags & here:
        shown = ", ".join(sorted(str(t) for t in tags))
        raise UserError(
            f"{path.name} is built for another system or Python ({shown}); find the wheel "
            "built for this one."
        )


def _download(name: str, staging: Path, pip: Pip, progress: Progress) -> Path:
    """``pip download --no-deps`` of a wheel of ``name``; an sdist-only package is refused."""
    try:
        requirement = PackagingRequirement(name)
    except InvalidRequirement:
        raise UserError(
            f"'{name}' is neither a file, a folder nor a package name (NAME or NAME==VERSION)."
        ) from None
    if requirement.url or requirement.marker:
        raise UserError(f"Give a package name, optionally with a version, not '{name}'.")
    progress(None, f"Downloading {name}…")
    dest = staging / "download"
    dest.mkdir()
    done = pip.run(
        "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off", "-d", str(dest),
        name,
    )  # fmt: skip
    if done.returncode:
        versions = pip.run("index", "versions", requirement.name)
        if versions.returncode == 0 and "Available versions:" in versions.stdout:
            listed = versions.stdout.split("Available versions:", 1)[1].strip()
            raise UserError(
                f"The package index has no wheel of {name} that fits here (versions listed: "
                f"{listed}), only source code; Studio installs plugins from wheels only, since "
                "building source runs its code: ask its author for a wheel, or build one and "
                "install the .whl."
            )
        raise UserError(f"pip could not download {name}: {pip_error(done)}.")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise UserError(f"pip downloaded no single wheel of {name}; nothing was installed.")
    return wheels[0]


def prepare(
    source: str | Path, staging: Path, pip: Pip, limits: Limits, progress: Progress
) -> Prepared:
    """Turn ``source`` into ``<staging>/plugin`` and read its manifest (see the module)."""
    kind, path = classify(source)
    shown_source = str(path.resolve()) if path is not None else str(source)
    version_note = ""
    if kind == "package":
        path = _download(str(source), staging, pip, progress)
        version_note = path.name
    assert path is not None
    what = path.name or str(path)
    extra: list[str] = []
    author = ""
    if kind == "folder":
        root = path
    else:
        if kind in ("wheel", "package"):
            _check_wheel_name(path)
        progress(None, f"Unpacking {path.name}…")
        root = staging / "unpacked"
        root.mkdir()
        extract_zip(path, root, limits, what)
    manifest_path = _find_manifest(root, what)
    manifest = _read_manifest(manifest_path, root, what)
    if kind in ("wheel", "package"):
        extra, author = _wheel_metadata(root, what)
    else:
        extra, author = _project_dependencies(manifest_path, root, what)
    progress(None, f"Copying {manifest.name}…")
    _build_tree(
        manifest_path, manifest, root, staging, limits, what, wheel=kind in ("wheel", "package")
    )
    if root != path:
        shutil.rmtree(root)
    if kind == "package":
        shutil.rmtree(staging / "download")
    requires = tuple(dict.fromkeys((*manifest.requires, *extra)))
    return Prepared(
        kind=kind,
        source=shown_source,
        manifest=manifest,
        requires=requires,
        author=manifest.author or author,
        version_note=version_note,
    )
