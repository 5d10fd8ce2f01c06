"""Plugin installs: from a folder, a zip, a wheel and a local index; requirements against
Studio's own environment; hostile archives; uninstall without a trace; switched off and on.

Every pip call uses ``--no-index --find-links`` with wheels built here from ``examples/``:
no test touches the network.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from studio.core.errors import UserError
from studio.core.paths import Paths
from studio.core.pipeline import Draft, execute_prepared
from studio.core.plugin_install import Limits, PluginInstaller
from studio.core.plugin_install import installer as installer_module
from studio.core.project.store import ProjectStore
from studio.core.registry import PluginRegistry, switched_off_reason
from studio.core.services import build_core_services
from studio.plugin_api import CancelToken, Panel
from studio.plugin_api.manifest import parse_manifest
from studio.plugin_api.testing import check_plugin
from tests.conftest import REPO_ROOT
from tests.plugins.plugin_factory import manifest_text, write_folder_plugin

EXAMPLES = REPO_ROOT / "examples"
BANNER = "studio-example.banner"
PLUGIN_WHEEL = "studio_plugin_banner-1.0.0-py3-none-any.whl"
FONT_WHEEL = "studio_example_banner_font-1.0.0-py3-none-any.whl"


# helpers (the CLI tests use them too) --------------------------------------------------------


def build_wheels(folders: list[Path], dest: Path) -> None:
    """``pip wheel`` each project folder into ``dest``, offline (the venv's setuptools)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(dest), *map(str, folders)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def example_copy(dest: Path, name: str = "studio-plugin-banner") -> Path:
    """A copy of an example project (building a wheel writes into its folder)."""
    return Path(shutil.copytree(EXAMPLES / name, dest / name))


def example_wheels_in(base: Path) -> Path:
    """The example plugin's and its requirement's wheels, built once per session."""
    wheels = base / "example-wheels"
    if not (wheels / PLUGIN_WHEEL).is_file():
        work = base / "example-build"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        build_wheels([example_copy(work, "banner-font"), example_copy(work)], wheels)
    return wheels


def pip_freeze() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return done.stdout


def snapshot(folder: Path) -> list[tuple[str, int]]:
    """Every path under ``folder`` with its size (folders: -1)."""
    return sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size if p.is_file() else -1)
        for p in folder.rglob("*")
    )


def zip_folder(folder: Path, archive: Path, top: str | None = None) -> Path:
    """Zip ``folder``'s files, under ``top/`` when given."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                name = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{name}" if top else name)
    return archive


def hostile_zip(archive: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    """A zip of (name, data, unix mode) entries, names taken as they are."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return archive


def plugin_entries(
    plugin_id: str = "acme.tiny", **overrides: object
) -> list[tuple[str, bytes, int]]:
    """A valid small flat plugin as zip entries."""
    manifest = manifest_text(plugin_id, "acme_tiny", **overrides).encode()
    code = b"from studio.plugin_api import ModelPlugin\nclass Plugin(ModelPlugin):\n    pass\n"
    return [
        ("studio-plugin.toml", manifest, stat.S_IFREG | 0o644),
        ("acme_tiny.py", code, stat.S_IFREG | 0o644),
    ]


# fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def example_wheels(tmp_path_factory) -> Path:
    return example_wheels_in(tmp_path_factory.getbasetemp())


@pytest.fixture
def wheels(example_wheels, tmp_path) -> Path:
    """This test's own find-links folder (a test may take a wheel out of it)."""
    return Path(shutil.copytree(example_wheels, tmp_path / "wheels"))


@pytest.fixture
def installer(studio_data_dir, wheels) -> PluginInstaller:
    return PluginInstaller(
        Paths.from_environment(), pip_args=("--no-index", "--find-links", str(wheels))
    )


def run_banner(prompt: str) -> str:
    """Run the installed example once through the job pipeline, in its own model process (as
    the window and ``studio generate`` run a third-party plugin)."""
    services = build_core_services()
    project = services.paths.data_dir.parent / f"{services.paths.data_dir.name}.studio"
    store = ProjectStore.create(project)
    executor = services.panel_executor("writing")
    try:
        draft = Draft(plugin_id=BANNER, panel=Panel.WRITING, fields={"prompt": prompt})
        prepared = services.pipeline.run_ready(draft, store)
        outcome = execute_prepared(executor, prepared, prepared.sink(store), CancelToken())
        (asset_id,) = outcome.asset_ids
        return store.read_blob(asset_id).decode()
    finally:
        executor.shutdown()
        store.close()
        project.unlink()


HI = "# # ###\n# #  #\n###  #\n# #  #\n# # ###"


# sources -------------------------------------------------------------------------------------


def _source(kind: str, tmp_path: Path, wheels: Path) -> str:
    if kind == "folder":
        return str(example_copy(tmp_path))
    if kind == "zip":  # a zip of the project: the plugin's package one folder down
        return str(zip_folder(example_copy(tmp_path), tmp_path / "banner.zip", "banner-1.0"))
    if kind == "wheel":
        return str(wheels / PLUGIN_WHEEL)
    return "studio-plugin-banner"  # a package name, found in the local index


@pytest.mark.parametrize("kind", ["folder", "zip", "wheel", "package"])
def test_install_from_each_source_then_the_plugin_runs(kind, installer, tmp_path, wheels):
    source = _source(kind, tmp_path, wheels)
    messages = []
    review = installer.review(source, lambda fraction, message: messages.append(message))
    manifest = review.manifest
    assert (review.kind, manifest.id, manifest.version, review.author) == (
        kind,
        BANNER,
        "1.0.0",
        "Studio examples",
    )
    assert review.replaces == "" and review.can_install
    # the requirement Studio's environment lacks, resolved by pip; nothing else
    assert [(r.text, r.state, r.version) for r in review.requirements] == [
        ("studio-example-banner-font>=1.0", "install", "1.0.0")
    ]
    assert review.files == 4  # the package's three files and the manifest on top
    assert any("requirements" in m for m in messages)
    with pytest.raises(ImportError):
        __import__("banner_font")  # not in Studio's environment, before or after

    installed = installer.install(review)

    data_dir = installer.paths.data_dir
    assert installed.folder == data_dir / "plugins" / BANNER
    assert installed.packages == data_dir / "plugin-packages" / BANNER
    assert (installed.packages / "banner_font" / "__init__.py").is_file()
    assert not (data_dir / ".plugin-staging").exists()
    assert installer.installed() == [installed]
    record = PluginRegistry(plugin_dirs=[data_dir / "plugins"], entry_point_group=None).get(BANNER)
    assert record.enabled, record.reason
    assert record.packages == installed.packages
    assert run_banner("hi") == HI


def test_the_example_manifest_and_wheel_agree_on_the_requirement():
    manifest = EXAMPLES / "studio-plugin-banner" / "studio_plugin_banner" / "studio-plugin.toml"
    declared = tomllib.loads(manifest.read_text())["requires"]
    project = tomllib.loads((EXAMPLES / "studio-plugin-banner" / "pyproject.toml").read_text())
    assert declared == project["project"]["dependencies"] == ["studio-example-banner-font>=1.0"]
    assert "entry-points" not in project["project"]  # installed as a folder plugin


def test_a_flat_folder_plugin_without_requirements(installer, tmp_path):
    folder = write_folder_plugin(tmp_path, "acme_flat")
    forged = {"files": ["../../../outside.txt"], "packages": "plugin-packages/../../x"}
    (folder / ".studio-install.json").write_text(json.dumps(forged))  # shipped: not believed
    review = installer.review(folder)
    assert review.requirements == () and review.files == 3
    installed = installer.install(review)
    record = json.loads((installed.folder / ".studio-install.json").read_text())
    assert record["files"] == [
        "plugins/acme-flat/.studio-install.json",
        "plugins/acme-flat/acme_flat.py",
        "plugins/acme-flat/studio-plugin.toml",
    ]
    assert "packages" not in record and record["source"] == str(folder)
    assert sorted(p.name for p in installed.folder.iterdir()) == [
        ".studio-install.json",
        "acme_flat.py",
        "studio-plugin.toml",
    ]
    assert installed.packages is None
    services = build_core_services()
    assert services.registry.get("acme-flat").enabled
    assert services.registry.plugin_class("acme-flat").__name__ == "Plugin"


def test_discard_leaves_nothing(installer, tmp_path):
    before = snapshot(installer.paths.data_dir)
    review = installer.review(example_copy(tmp_path))
    assert review.staging is not None and review.staging.is_dir()
    installer.discard(review)
    assert snapshot(installer.paths.data_dir) == before
    with pytest.raises(UserError, match="review it again"):
        installer.install(review)


# requirements --------------------------------------------------------------------------------


def test_a_conflicting_requirement_is_refused_and_studio_is_untouched(installer, tmp_path):
    import numpy

    folder = write_folder_plugin(tmp_path, "acme_old", requires=["numpy==1.0.0", "packaging"])
    freeze = pip_freeze()
    before = snapshot(installer.paths.data_dir)
    review = installer.review(folder)
    states = {r.text: (r.state, r.version) for r in review.requirements}
    assert states["numpy==1.0.0"] == ("conflict", numpy.__version__)
    assert states["packaging"][0] == "met"
    (conflict,) = review.conflicts
    assert f"Studio has numpy {numpy.__version__}" in conflict.why
    assert not review.can_install
    with pytest.raises(UserError, match=r"cannot be installed: numpy==1\.0\.0: .*never changed"):
        installer.install(review)
    installer.discard(review)
    assert snapshot(installer.paths.data_dir) == before
    assert pip_freeze() == freeze


def test_a_dependency_that_would_change_a_studio_package_is_a_conflict(installer, tmp_path, wheels):
    """The plugin's own requirement is new, but it needs an older 'packaging' (a local wheel
    of it is on the index): pip's report would replace Studio's, so the install is refused."""
    for name, text in (
        ("packaging", '[project]\nname = "packaging"\nversion = "19.0"\n'),
        (
            "needs-old-packaging",
            '[project]\nname = "needs-old-packaging"\nversion = "1.0"\n'
            'dependencies = ["packaging<20"]\n',
        ),
    ):
        project = tmp_path / name
        project.mkdir()
        (project / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            + text
            + "[tool.setuptools]\npy-modules = []\n"
        )
        build_wheels([project], wheels)
    folder = write_folder_plugin(tmp_path, "acme_needy", requires=["needs-old-packaging"])
    freeze = pip_freeze()
    review = installer.review(folder)
    states = {r.text: (r.state, r.version, r.why) for r in review.requirements}
    assert states["needs-old-packaging"][:2] == ("install", "1.0")
    state, version, why = states["packaging"]
    assert (state, version) == ("conflict", "19.0")
    assert why.startswith("meeting it would change Studio's packaging ") and "to 19.0" in why
    with pytest.raises(UserError, match="cannot be installed"):
        installer.install(review)
    installer.discard(review)
    assert pip_freeze() == freeze


def test_a_requirement_nowhere_to_be_found_is_a_conflict_with_pips_reason(installer, tmp_path):
    folder = write_folder_plugin(tmp_path, "acme_lost", requires=["no-such-package-anywhere"])
    review = installer.review(folder)
    (conflict,) = review.conflicts
    assert "No matching distribution found for no-such-package-anywhere" in conflict.why
    installer.discard(review)


def test_private_packages_count_for_their_plugin_only(installer, tmp_path):
    installer.install(installer.review(example_copy(tmp_path)))
    other = tmp_path / "others"
    write_folder_plugin(other, "acme_font", requires=["studio-example-banner-font>=1.0"])
    registry = PluginRegistry(
        plugin_dirs=[installer.plugins_dir, other / "acme_font"], entry_point_group=None
    )
    assert registry.get(BANNER).enabled
    assert registry.get("acme-font").reason == (
        "it needs the Python package studio-example-banner-font>=1.0 (not installed)"
    )


# failures roll back --------------------------------------------------------------------------


def test_a_failing_pip_step_rolls_the_whole_install_back(installer, tmp_path, wheels):
    freeze = pip_freeze()
    before = snapshot(installer.paths.data_dir)
    review = installer.review(example_copy(tmp_path))
    (wheels / FONT_WHEEL).unlink()  # gone from the index between the review and the install
    with pytest.raises(UserError, match=r"pip could not install studio-example-banner-font==1\.0"):
        installer.install(review)
    assert snapshot(installer.paths.data_dir) == before
    assert pip_freeze() == freeze


def test_reinstall_replaces_the_version_and_a_failed_replace_keeps_the_old(installer, tmp_path):
    installer.install(installer.review(example_copy(tmp_path / "v1")))
    newer = example_copy(tmp_path / "v2")
    manifest = newer / "studio_plugin_banner" / "studio-plugin.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.1.0"'))

    review = installer.review(newer)
    assert review.replaces == "1.0.0"
    real_rename = os.rename
    failed = []

    def failing_rename(source, destination):  # the new version's move into place fails
        if Path(destination) == installer.plugins_dir / BANNER and not failed:
            failed.append(source)
            raise OSError(28, "No space left on device")
        real_rename(source, destination)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(installer_module.os, "rename", failing_rename)
        with pytest.raises(OSError, match="No space left"):
            installer.install(review)
    assert failed == [review.staging / "plugin"]
    (kept,) = installer.installed()
    assert kept.version == "1.0.0"
    assert (kept.packages / "banner_font").is_dir()
    assert not (installer.paths.data_dir / ".plugin-staging").exists()

    review = installer.review(newer)
    assert review.replaces == "1.0.0"
    upgraded = installer.install(review)
    assert upgraded.version == "1.1.0" and installer.installed() == [upgraded]
    assert run_banner("hi") == HI
    installer.uninstall(BANNER)  # the folders the first install made go with the last
    data_dir = installer.paths.data_dir
    assert not [
        n for n in ("plugins", "plugin-packages", ".plugin-staging") if (data_dir / n).exists()
    ]


# hostile sources -----------------------------------------------------------------------------


REG = stat.S_IFREG | 0o644


@pytest.mark.parametrize(
    ("entry", "sentence"),
    [
        (
            ("../evil.py", b"x", REG),
            r"has an entry that climbs out of its folder \(\.\./evil\.py\)",
        ),
        (("a/../../evil.py", b"x", REG), "climbs out of its folder"),
        (("/tmp/evil.py", b"x", REG), r"has an entry with an absolute path \(/tmp/evil\.py\)"),
        (("C:/evil.py", b"x", REG), "absolute path"),
        (("a\\..\\evil.py", b"x", REG), "backslash"),
        (("link", b"/etc/passwd", stat.S_IFLNK | 0o777), r"holds a link \(link\)"),
        (("dev", b"", stat.S_IFCHR | 0o644), "holds a device file, pipe or socket"),
        (("fifo", b"", stat.S_IFIFO | 0o644), "holds a device file, pipe or socket"),
    ],
)
def test_hostile_zip_entries_are_refused_and_nothing_is_left(installer, tmp_path, entry, sentence):
    archive = hostile_zip(tmp_path / "evil.zip", [*plugin_entries(), entry])
    before = snapshot(installer.paths.data_dir)
    outside = snapshot(tmp_path)
    with pytest.raises(UserError, match=sentence) as refused:
        installer.review(archive)
    assert str(refused.value).startswith("evil.zip ")
    assert snapshot(installer.paths.data_dir) == before
    assert snapshot(tmp_path) == outside
    assert not Path("/tmp/evil.py").exists()


def test_a_zip_bomb_is_refused(installer, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, _mode in plugin_entries():
            zf.writestr(name, data)
        with zf.open("zeros.bin", "w", force_zip64=True) as out:
            chunk = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros, about 200 KB compressed
                out.write(chunk)
    assert archive.stat().st_size < 1_000_000
    installer.limits = Limits(bytes=10_000_000)
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"bomb\.zip holds more than 10\.0 MB; .* zip bomb"):
        installer.review(archive)
    assert snapshot(installer.paths.data_dir) == before


def test_a_bomb_that_lies_about_its_size_is_refused(installer, tmp_path):
    """The declared size (in both headers) says 1 KiB; the data is 50 MB: unpacking stops at
    the declared size, and the checksum refuses the entry. Nothing is left."""
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, _mode in plugin_entries():
            zf.writestr(name, data)
        zf.writestr("zeros.bin", bytes(50 << 20))
    raw = bytearray(archive.read_bytes())
    true_size = (50 << 20).to_bytes(4, "little")
    assert raw.count(true_size) == 2  # the local header's and the central directory's
    archive.write_bytes(bytes(raw).replace(true_size, (1024).to_bytes(4, "little")))
    installer.limits = Limits(bytes=10_000_000)
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"liar\.zip is not a readable zip archive \(Bad CRC"):
        installer.review(archive)
    assert snapshot(installer.paths.data_dir) == before


def test_bytes_are_counted_as_they_are_copied(installer, tmp_path):
    """A folder declares no sizes: its bytes are counted while copying, and the copy stops."""
    folder = write_folder_plugin(tmp_path, "acme_big")
    with open(folder / "big.bin", "wb") as out:
        out.truncate(11 << 20)  # sparse: 11 MiB read, little written
    installer.limits = Limits(bytes=10_000_000)
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"acme_big holds more than 10\.0 MB"):
        installer.review(folder)
    assert snapshot(installer.paths.data_dir) == before


def test_too_many_files_are_refused(installer, tmp_path):
    entries = plugin_entries() + [(f"data/{i}.txt", b"x", REG) for i in range(60)]
    archive = hostile_zip(tmp_path / "many.zip", entries)
    installer.limits = Limits(files=50)
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"many\.zip holds 62 entries, more than 50"):
        installer.review(archive)
    folder = tmp_path / "many"
    folder.mkdir()
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    with pytest.raises(UserError, match="holds more than 50 files and folders"):
        installer.review(folder)
    assert snapshot(installer.paths.data_dir) == before


def test_a_folder_with_a_link_out_is_refused(installer, tmp_path):
    folder = write_folder_plugin(tmp_path, "acme_linky")
    secret = tmp_path / "secret.txt"
    secret.write_text("not the plugin's")
    (folder / "data.txt").symlink_to(secret)
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"holds a link that points outside it \(data\.txt ->"):
        installer.review(folder)
    assert snapshot(installer.paths.data_dir) == before
    (folder / "data.txt").unlink()
    (folder / "inside.txt").write_text("the plugin's own")
    (folder / "data.txt").symlink_to("inside.txt")  # a link inside: copied as a file
    installed = installer.install(installer.review(folder))
    copied = installed.folder / "data.txt"
    assert not copied.is_symlink() and copied.read_text() == "the plugin's own"


def test_a_folder_with_a_pipe_is_refused(installer, tmp_path):
    folder = write_folder_plugin(tmp_path, "acme_piped")
    os.mkfifo(folder / "pipe")
    with pytest.raises(UserError, match=r"holds a device file, pipe or socket \(pipe\)"):
        installer.review(folder)


# manifests -----------------------------------------------------------------------------------


def test_an_incompatible_api_version_is_refused_with_the_registrys_sentence(installer, tmp_path):
    archive = hostile_zip(tmp_path / "future.zip", plugin_entries(api_version=99))
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError) as refused:
        installer.review(archive)
    assert str(refused.value) == (
        "Acme.Tiny (acme.tiny) cannot be installed: it needs plugin API 99, this Studio "
        "provides 1; update Studio."
    )
    assert snapshot(installer.paths.data_dir) == before


def test_an_invalid_manifest_says_what_is_wrong(installer, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "studio-plugin.toml").write_text('id = "acme.broken"\n')
    with pytest.raises(UserError, match=r"broken has an invalid manifest: studio-plugin\.toml: "):
        installer.review(folder)
    with pytest.raises(
        UserError, match=r"holds no studio-plugin\.toml, so it is not a Studio plugin"
    ):
        installer.review(EXAMPLES / "banner-font")


def test_the_manifest_reads_author_and_programs():
    data = {
        "id": "acme.x",
        "name": "X",
        "version": "1",
        "api_version": 1,
        "panels": ["writing"],
        "licence": "MIT",
        "entry": "acme_x:Plugin",
        "author": "Acme Ltd",
        "needs": {"programs": ["ffmpeg"], "network": True},
    }
    manifest = parse_manifest(data)
    assert manifest.author == "Acme Ltd"
    assert manifest.needs.programs == ("ffmpeg",) and manifest.needs.network
    assert parse_manifest({**data, "needs": {}}).needs.programs == ()
    with pytest.raises(ValueError, match=r"\[needs\]: 'programs' has the wrong type \(str\)"):
        parse_manifest({**data, "needs": {"programs": "ffmpeg"}})
    with pytest.raises(ValueError, match="'author' has the wrong type"):
        parse_manifest({**data, "author": ["Acme"]})


def test_a_plugin_needing_a_missing_program_is_disabled_with_the_reason(tmp_path):
    write_folder_plugin(
        tmp_path, "acme_prog", extra_manifest='\n[needs]\nprograms = ["no-such-program-x"]\n'
    )
    registry = PluginRegistry(plugin_dirs=[tmp_path], entry_point_group=None)
    assert registry.get("acme-prog").reason == (
        "it needs the program no-such-program-x (not found on PATH)"
    )


# package names -------------------------------------------------------------------------------


def test_a_package_with_only_source_code_is_refused(installer, tmp_path):
    index = tmp_path / "sdists"
    index.mkdir()
    shutil.make_archive(str(index / "only-source-1.0"), "gztar", EXAMPLES / "banner-font")
    only_source = PluginInstaller(
        installer.paths, pip_args=("--no-index", "--find-links", str(index))
    )
    before = snapshot(installer.paths.data_dir)
    with pytest.raises(UserError, match=r"no wheel of only-source .*versions listed: 1\.0"):
        only_source.review("only-source")
    with pytest.raises(UserError, match="pip could not download no-such-plugin: "):
        only_source.review("no-such-plugin")
    with pytest.raises(UserError, match="does not exist"):
        only_source.review(str(tmp_path / "missing.whl"))
    assert snapshot(installer.paths.data_dir) == before


# uninstall, enable, disable ------------------------------------------------------------------


def test_uninstall_leaves_no_trace(installer, tmp_path):
    data_dir = installer.paths.data_dir
    freeze = pip_freeze()
    before = snapshot(data_dir)
    installer.install(installer.review(example_copy(tmp_path)))
    registry = PluginRegistry(plugin_dirs=[installer.plugins_dir], entry_point_group=None)
    sys.path.insert(0, str(registry.get(BANNER).packages))  # as its model process does
    font = registry.plugin_class(BANNER)().load({}, None)  # byte code written beside both
    assert font.render("hi") == HI
    installer.set_enabled(BANNER, False)
    assert snapshot(data_dir) != before
    installer.uninstall(BANNER)
    assert snapshot(data_dir) == before
    assert pip_freeze() == freeze
    with pytest.raises(UserError, match=f"No plugin with the id '{BANNER}' is installed"):
        installer.uninstall(BANNER)


def test_uninstall_refuses_what_studio_did_not_install(test_plugins, installer):
    with pytest.raises(UserError, match=r"'studio-test\.echo' was not installed by Studio: .*"):
        installer.uninstall("studio-test.echo")
    with pytest.raises(UserError, match="is not a plugin id"):
        installer.uninstall("../..")


def test_an_id_already_used_is_refused(test_plugins, installer, tmp_path):
    text = manifest_text("studio-test.echo", "echo_again")
    folder = write_folder_plugin(tmp_path, "echo_again", manifest=text)
    with pytest.raises(UserError, match=r"The id 'studio-test\.echo' is already used by the"):
        installer.review(folder)


def test_switched_off_and_on_survives_a_restart(installer, tmp_path):
    installer.install(installer.review(example_copy(tmp_path)))
    assert installer.set_enabled(BANNER, False) is True
    assert installer.set_enabled(BANNER, False) is False

    restarted = build_core_services()
    record = restarted.registry.get(BANNER)
    assert not record.enabled and record.switched_off
    assert record.reason == switched_off_reason(BANNER)
    assert "Manage Plugins" in record.reason and f"studio plugins enable {BANNER}" in record.reason
    assert BANNER not in [r.id for r in restarted.registry.enabled_for_panel(Panel.WRITING)]
    assert [p.enabled for p in installer.installed()] == [False]

    installer.set_enabled(BANNER, True)
    assert build_core_services().registry.get(BANNER).enabled
    assert not (installer.plugins_dir / "state.json").exists()
    with pytest.raises(UserError, match=r"No plugin with the id 'acme\.nothing' is installed"):
        installer.set_enabled("acme.nothing", False)


def test_a_running_studio_sees_the_new_plugin_after_discover(installer, tmp_path):
    services = build_core_services()
    assert BANNER not in [r.id for r in services.registry.records()]
    installer.install(installer.review(example_copy(tmp_path)))
    services.registry.discover()  # what the CLI and the Plugins dialog do after each change
    assert BANNER in [r.id for r in services.registry.enabled_for_panel(Panel.WRITING)]
    installer.set_enabled(BANNER, False)
    services.registry.discover()
    assert services.registry.get(BANNER).switched_off
    installer.uninstall(BANNER)
    services.registry.discover()
    assert BANNER not in [r.id for r in services.registry.records()]


def test_the_installed_example_keeps_the_plugin_contract(installer, tmp_path, monkeypatch):
    installed = installer.install(installer.review(example_copy(tmp_path)))
    monkeypatch.syspath_prepend(str(installed.packages))  # as its model process has it
    check_plugin(installed.folder / "studio-plugin.toml")
