"""Plugin discovery from every source, and plugins that cannot work listed with reasons."""

from __future__ import annotations

import importlib
import sys

import pytest

from studio.core.registry import PluginRegistry, PluginSource, PluginUnavailable
from studio.core.services import build_core_services
from studio.plugin_api import Panel
from studio.plugin_api.testing import TEST_PLUGINS_DIR
from tests.plugins.plugin_factory import write_folder_plugin, write_installed_package


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fake site-packages folder on sys.path for installed-package plugins."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for name in [m for m in sys.modules if m.startswith(("acme_", "studio_fake_"))]:
        del sys.modules[name]


def test_folder_plugins_are_discovered(tmp_path):
    write_folder_plugin(tmp_path, "shout", panels=["writing", "voice"])
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    (record,) = registry.records()
    assert record.id == "shout"
    assert record.source is PluginSource.FOLDER
    assert record.enabled and record.reason == ""
    assert record.panels == (Panel.WRITING, Panel.VOICE)
    assert registry.spec("shout").run_options.names == ()
    assert [r.id for r in registry.enabled_for_panel(Panel.VOICE)] == ["shout"]


def test_a_plugin_folder_may_itself_be_one_plugin(tmp_path):
    folder = write_folder_plugin(tmp_path, "single")
    registry = PluginRegistry(plugin_dirs=[folder], entry_point_group=None)
    assert [r.id for r in registry.records()] == ["single"]


def test_installed_packages_are_discovered_through_entry_points(site):
    write_installed_package(site, "acme-plugins", "acme_writer", "acme.writer")
    registry = PluginRegistry(entry_point_group="studio.plugins")
    record = registry.get("acme.writer")
    assert record.source is PluginSource.PACKAGE
    assert record.enabled, record.reason
    assert registry.plugin_class("acme.writer").__name__ == "Plugin"


def test_builtin_plugins_come_from_studios_own_distribution(site):
    write_installed_package(site, "studio-fake-dist", "studio_fake_builtin", "fake.builtin")
    registry = PluginRegistry(builtin_distribution="studio-fake-dist")
    assert registry.get("fake.builtin").source is PluginSource.BUILTIN


def test_the_test_plugins_cover_every_panel_and_are_not_listed_by_default():
    installed = build_core_services().registry.records()
    assert not any(r.id.startswith("studio-test.") for r in installed)
    registry = PluginRegistry(plugin_dirs=[TEST_PLUGINS_DIR], entry_point_group=None)
    assert {r.panels[0] for r in registry.records()} == set(Panel)
    assert all(r.enabled for r in registry.records())


def test_discovery_imports_no_plugin_code(tmp_path):
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\n" + (
        "from studio.plugin_api import ModelPlugin\nclass Plugin(ModelPlugin):\n"
        "    def load(self, o, c): return None\n    def run(self, l, r, o, c): yield from ()\n"
    )
    write_folder_plugin(tmp_path, "noisy_plugin", code=code)
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    assert registry.get("noisy-plugin").enabled
    assert not marker.exists()
    registry.verify()
    assert marker.exists()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"api_version": 99}, "needs plugin API 99, this Studio provides 1"),
        ({"api_version": 0}, "written for plugin API 0, which this Studio no longer runs"),
        ({"requires": ["definitely-not-installed-pkg>=1"]}, "needs the Python package"),
        ({"requires": ["pytest>=999"]}, "needs pytest>=999 (installed: "),
        ({"requires": ["not a requirement!"]}, "not a valid requirement"),
        ({"entry": "missing_module_xyz:Plugin"}, "its code 'missing_module_xyz' was not found"),
        ({"panels": ["kitchen"]}, "unknown panel"),
        ({"panels": []}, "must name at least one panel"),
        ({"id": "Bad Id"}, "must be lowercase letters"),
        ({"entry": "no colon"}, "must look like 'package.module:ClassName'"),
    ],
)
def test_plugins_that_cannot_work_are_listed_disabled_with_a_reason(tmp_path, kwargs, reason):
    write_folder_plugin(tmp_path, "broken_one", **kwargs)
    write_folder_plugin(tmp_path, "good_one")
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    records = {r.location.split("/")[-2]: r for r in registry.records()}
    assert not records["broken_one"].enabled
    assert reason in records["broken_one"].reason
    assert records["good_one"].enabled
    with pytest.raises(PluginUnavailable, match="disabled"):
        registry.plugin_class(records["broken_one"].id)


def test_a_missing_system_library_disables_the_plugin(tmp_path):
    write_folder_plugin(
        tmp_path, "needs_lib", extra_manifest='[needs]\nlibraries = ["libnope-studio.so.9"]\n'
    )
    record = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None).get("needs-lib")
    assert "needs the system library libnope-studio.so.9" in record.reason


def test_invalid_toml_is_reported_with_the_folder_name(tmp_path):
    write_folder_plugin(tmp_path, "garbled", manifest="id = [unclosed\n")
    (record,) = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None).records()
    assert record.id == "garbled"
    assert "not valid TOML" in record.reason


def test_an_import_error_disables_the_plugin_and_the_rest_keeps_working(tmp_path):
    write_folder_plugin(tmp_path, "explodes", code="raise RuntimeError('boom at import')\n")
    write_folder_plugin(tmp_path, "fine")
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    assert registry.get("explodes").enabled  # not known before its code is imported
    records = {r.id: r for r in registry.verify()}
    assert not records["explodes"].enabled
    assert "RuntimeError: boom at import" in records["explodes"].reason
    assert records["fine"].enabled
    assert registry.plugin_class("fine")


def test_an_entry_that_is_not_a_model_plugin_is_refused(tmp_path):
    write_folder_plugin(tmp_path, "not_a_plugin", code="class Plugin:\n    pass\n")
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    with pytest.raises(PluginUnavailable, match="is not a ModelPlugin subclass"):
        registry.plugin_class("not-a-plugin")
    assert not registry.get("not-a-plugin").enabled


def test_duplicate_ids_keep_the_first_and_explain_the_second(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_folder_plugin(first, "twin")
    write_folder_plugin(second, "twin_copy", id="twin")
    registry = PluginRegistry(plugin_dirs=[first, second], entry_point_group=None)
    records = registry.records()
    assert registry.get("twin").enabled
    (duplicate,) = [r for r in records if not r.enabled]
    assert "another plugin already uses the id 'twin'" in duplicate.reason


def test_entry_point_problems_are_explained(site):
    info = site / "acme_bad-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-bad\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[studio.plugins]\nwith-colon = acme_bad:thing\nno-package = acme_absent_pkg\n"
    )
    registry = PluginRegistry()
    assert "must name the package" in registry.get("with-colon").reason
    assert (
        "no studio-plugin.toml found in package 'acme_absent_pkg'"
        in registry.get("no-package").reason
    )


def test_unknown_plugin_ids_give_a_clear_error():
    with pytest.raises(PluginUnavailable, match="No plugin with the id 'nope' is installed"):
        PluginRegistry(plugin_dirs=[]).get("nope")
