"""The plugin contract test: it passes for good plugins and names what a bad one breaks."""

from __future__ import annotations

import pytest

from studio.plugin_api.testing import TEST_PLUGINS_DIR, ContractViolation, check_plugin
from tests.plugins.plugin_factory import write_folder_plugin


@pytest.mark.parametrize("name", ["echo", "gradient", "tone", "describe"])
def test_the_light_test_plugins_keep_the_contract(name):
    check_plugin(TEST_PLUGINS_DIR / name / "studio-plugin.toml")


HEADER = "from studio.plugin_api import *\nfrom studio.plugin_api import AssetKind\n"


def _violation(tmp_path, code: str, **manifest) -> str:
    # Each plugin module gets its own name: Python caches modules by name.
    name = f"bad_plugin_{abs(hash((str(tmp_path), code)))}"
    folder = write_folder_plugin(tmp_path, name, code=HEADER + code, **manifest)
    with pytest.raises(ContractViolation) as caught:
        check_plugin(folder / "studio-plugin.toml")
    return str(caught.value)


def test_ignoring_cancel_is_caught(tmp_path):
    code = """
class Plugin(ModelPlugin):
    def load(self, options, ctx): return None
    def run(self, loaded, request, options, ctx):
        yield Result(assets=(GeneratedAsset.from_text("done"),))
"""
    assert "ignores a cancelled token" in _violation(tmp_path, code)


def test_missing_or_misplaced_result_is_caught(tmp_path):
    code = """
class Plugin(ModelPlugin):
    def load(self, options, ctx): return None
    def run(self, loaded, request, options, ctx):
        ctx.cancel.raise_if_cancelled()
        yield Result(assets=(GeneratedAsset.from_text("a"),))
        yield Progress(fraction=1.0)
"""
    assert "must end with a Result event" in _violation(tmp_path, code)


def test_wrong_asset_kind_backwards_progress_and_undocumented_options_are_caught(tmp_path):
    code = """
class Plugin(ModelPlugin):
    run_options = OptionSet(IntOption(name="n", default=1))
    def load(self, options, ctx): return None
    def run(self, loaded, request, options, ctx):
        ctx.cancel.raise_if_cancelled()
        yield Progress(fraction=0.9)
        yield Progress(fraction=0.2)
        image = GeneratedAsset(kind=AssetKind.IMAGE, data=b"x", media_type="image/png")
        yield Result(assets=(image,))
"""
    message = _violation(tmp_path, code)
    assert "option 'n' has no description" in message
    code = code.replace(
        'IntOption(name="n", default=1)', 'IntOption(name="n", default=1, description="d")'
    )
    message = _violation(tmp_path / "again", code)
    assert "progress went backwards" in message
    assert "asset kind 'image', expected 'text'" in message


def test_heavy_imports_at_import_time_are_caught(tmp_path):
    # A stand-in 'torch' module next to the plugin: importing it is what the check must see.
    folder = write_folder_plugin(
        tmp_path,
        "heavy_plugin",
        code="import torch\n" + HEADER + "class Plugin(ModelPlugin):\n"
        "    def load(self, o, c): return None\n    def run(self, l, r, o, c): yield from ()\n",
    )
    (folder / "torch.py").write_text("")
    with pytest.raises(ContractViolation, match="importing heavy_plugin pulls in torch"):
        check_plugin(folder / "studio-plugin.toml")


def test_unsupported_api_version_is_caught(tmp_path):
    folder = write_folder_plugin(tmp_path, "future_plugin", api_version=2)
    with pytest.raises(ContractViolation, match="api_version 2 is not supported"):
        check_plugin(folder / "studio-plugin.toml", check_light_import=False)
