"""The core (and the Image panel's settings restore) names no built-in plugin: what a plugin's
options mean is the plugin's business (a third-party plugin gets the same treatment), so no
built-in id, package or option table is written into studio/core."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO_ROOT

# The product's preferred order of plugins per panel: a preference by id, which works the same
# when a plugin it names is missing, and is not a mapping of any plugin's options.
ALLOWED = {"studio/core/panel_defaults.py"}


def builtin_names() -> list[str]:
    names = []
    for manifest in sorted((REPO_ROOT / "plugins").glob("*/studio-plugin.toml")):
        names.append(tomllib.loads(manifest.read_text(encoding="utf-8"))["id"])
        names.append(manifest.parent.name)  # the package, such as studio_image_diffusers
    return names


def test_studio_core_names_no_builtin_plugin():
    names = builtin_names()
    assert "studio.image-diffusers" in names and "studio_image_diffusers" in names
    offenders = []
    for path in sorted((REPO_ROOT / "studio" / "core").rglob("*.py")):
        where = path.relative_to(REPO_ROOT).as_posix()
        if where in ALLOWED:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{where}: {name}" for name in names if name in text]
    assert offenders == []


def test_the_ui_restores_settings_without_naming_a_builtin_plugin():
    text = (REPO_ROOT / "studio" / "ui" / "settings_restore.py").read_text(encoding="utf-8")
    assert [name for name in builtin_names() if name in text] == []


def test_settings_restore_knows_no_sampler_or_option_of_a_plugin():
    text = (REPO_ROOT / "studio" / "core" / "media" / "settings_restore.py").read_text()
    # diffusers' option names and A1111's sampler names (ComfyUI's own "scheduler" field is read)
    for word in ("guidance_scale", '"strength"', "DPM++", "Euler a", "SAMPLERS"):
        assert word not in text, word
