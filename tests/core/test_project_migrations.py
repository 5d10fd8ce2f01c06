"""Schema migrations, from files written with schema 1 and 2 (fixtures/make_schema*_project.py)."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studio.core.project import SCHEMA_VERSION, ProjectStore
from studio.core.project import schema as schema_module
from studio.core.project.schema import MIGRATIONS, Migration, migrate
from studio.plugin_api.kinds import AssetKind

FIXTURE = Path(__file__).parent / "fixtures" / "schema1.studio"
FIXTURE_2 = Path(__file__).parent / "fixtures" / "schema2.studio"
TEXT, IMAGE, CAPTION, DERIVED, AUDIO, TEXT_AGAIN = (
    f"01HZZZZZZZ000000000000000{n}" for n in range(1, 7)
)


@pytest.fixture
def old_project(tmp_path: Path) -> Path:
    path = tmp_path / "old.studio"
    shutil.copyfile(FIXTURE, path)
    return path


def schema_of(path: Path) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        # sqlite_stat1 is the query planner's (PRAGMA optimize at close), not the schema.
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def user_version(path: Path) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_fixture_is_schema_1() -> None:
    assert user_version(FIXTURE) == 1
    assert MIGRATIONS[0].from_version == 1 and MIGRATIONS[-1].to_version == SCHEMA_VERSION


def test_opening_upgrades_schema_1_and_keeps_everything(old_project: Path) -> None:
    with ProjectStore.open(old_project) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.counts_by_kind() == {
            AssetKind.TEXT: 2,
            AssetKind.IMAGE: 2,
            AssetKind.AUDIO: 0,
            AssetKind.CAPTION: 1,
            AssetKind.DOCUMENT: 0,
        }
        audio = store.get_asset(AUDIO)
        assert audio.deleted and audio.kind is AssetKind.AUDIO
        assert store.read_blob(AUDIO).startswith(b"RIFF")
        text = store.get_asset(TEXT)
        assert text.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
        assert audio.created_at == datetime(2024, 6, 1, 10, 4, tzinfo=UTC)  # no offset: UTC
        assert text.recipe.seed == 7 and text.recipe.request["prompt"] == "A poem about Foxes"
        assert text.size == len(store.read_blob(TEXT))
        # Lineage moved from the recipes into the lineage table.
        assert [(link.input_id, link.role) for link in store.inputs_of(CAPTION)] == [
            (IMAGE, "image")
        ]
        assert {link.asset_id for link in store.outputs_of(IMAGE)} == {CAPTION, DERIVED}
        assert [a.id for a in store.descendants(IMAGE)] == [DERIVED, CAPTION]
        # Search works on migrated rows (prompt text was filled in).
        assert [a.id for a in store.list_assets(search="foxes")] == [TEXT_AGAIN, TEXT]
        assert [a.id for a in store.list_assets(search="brighter")] == [DERIVED]
        stats = store.stats()
        assert stats.blobs == 5  # the two texts share one blob
        assert store.integrity_check().ok
        store.add_asset(
            kind=AssetKind.CAPTION,
            data=b"new",
            media_type="text/plain",
            recipe=text.recipe,
        )
    assert user_version(old_project) == SCHEMA_VERSION


def test_migrated_schema_equals_a_new_one(old_project: Path, tmp_path: Path) -> None:
    ProjectStore.open(old_project, background_check=False).close()
    ProjectStore.create(tmp_path / "new.studio").close()
    assert schema_of(old_project) == schema_of(tmp_path / "new.studio")


@pytest.fixture
def schema2_project(tmp_path: Path) -> Path:
    path = tmp_path / "two.studio"
    shutil.copyfile(FIXTURE_2, path)
    return path


def test_schema_2_gains_documents_and_keeps_everything(
    schema2_project: Path, tmp_path: Path
) -> None:
    assert user_version(FIXTURE_2) == 2
    with ProjectStore.open(schema2_project) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.count_assets() == 5 and store.count_assets(deleted=True) == 1
        assert [a.id for a in store.list_assets(search="foxes")] == [TEXT_AGAIN, TEXT]
        assert [a.id for a in store.descendants(IMAGE)] == [DERIVED, CAPTION]
        assert store.documents() == []
        doc = store.create_document("A first page.", source_asset_id=TEXT).asset.id
        store.save_document(doc, "A first page, edited.")
        assert [link.input_id for link in store.inputs_of(doc)] == [TEXT]
        assert store.integrity_check().ok
    assert user_version(schema2_project) == SCHEMA_VERSION
    ProjectStore.create(tmp_path / "new.studio").close()
    assert schema_of(schema2_project) == schema_of(tmp_path / "new.studio")


def test_a_failing_migration_leaves_the_file_as_it_was(
    old_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = old_project.read_bytes()

    def half_then_fail(conn: sqlite3.Connection) -> None:
        MIGRATIONS[0].apply(conn)
        raise RuntimeError("disk on fire")

    broken = (Migration(1, "broken", half_then_fail), *MIGRATIONS[1:])
    monkeypatch.setattr(schema_module, "MIGRATIONS", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ProjectStore.open(old_project)
    assert old_project.read_bytes() == before
    assert sorted(p.name for p in old_project.parent.iterdir()) == ["old.studio"]


def test_read_only_old_project_is_upgraded_in_memory_only(old_project: Path) -> None:
    before = old_project.read_bytes()
    old_project.chmod(stat.S_IRUSR)
    try:
        with ProjectStore.open(old_project) as store:
            assert store.read_only and store.schema_version == 1
            assert store.count_assets() == 5
            assert [(link.input_id, link.role) for link in store.inputs_of(DERIVED)] == [
                (IMAGE, "init")
            ]
            assert store.integrity_check().ok
    finally:
        old_project.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert old_project.read_bytes() == before
    assert sorted(p.name for p in old_project.parent.iterdir()) == ["old.studio"]


def test_save_as_of_a_read_only_old_project_writes_the_new_schema(
    old_project: Path, tmp_path: Path
) -> None:
    with ProjectStore.open(old_project, read_only=True) as store:
        store.save_copy(tmp_path / "upgraded.studio")
    assert user_version(tmp_path / "upgraded.studio") == SCHEMA_VERSION
    assert user_version(old_project) == 1


def test_no_migration_path_is_an_error() -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(ValueError, match="no migration path"):
        migrate(conn, 0)


def test_a_damaged_old_project_is_not_upgraded_and_stays_as_it_was(old_project: Path) -> None:
    from studio.core.project import DamagedProjectError

    conn = sqlite3.connect(old_project)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'assets'").fetchone()[0]
    conn.close()
    data = bytearray(old_project.read_bytes())
    data[(root - 1) * page + 8 : root * page] = bytes(page - 8)  # a lost sector
    old_project.write_bytes(bytes(data))
    with pytest.raises(DamagedProjectError, match=r"does not upgrade it.*studio project repair"):
        ProjectStore.open(old_project)
    assert old_project.read_bytes() == bytes(data)
    assert sorted(p.name for p in old_project.parent.iterdir()) == ["old.studio"]


def test_repair_upgrades_a_copy_of_an_old_project_and_keeps_its_intact_assets(
    old_project: Path,
) -> None:
    from studio.core.project.repair import repair_project

    conn = sqlite3.connect(old_project)
    conn.execute(
        "UPDATE blobs SET data = zeroblob(length(data)) WHERE sha256 = "
        "(SELECT blob FROM assets WHERE id = ?)",
        (IMAGE,),
    )
    conn.commit()
    conn.close()
    before = old_project.read_bytes()
    report = repair_project(old_project)
    assert old_project.read_bytes() == before
    assert [item.asset_id for item in report.lost] == [IMAGE]
    assert any("early Studio" in note for note in report.notes)
    with ProjectStore.open(report.target) as store:
        assert store.schema_version == SCHEMA_VERSION and store.integrity_check().ok
        kept = {asset.id for asset in store.list_assets(deleted=None)}
    assert TEXT in kept and IMAGE not in kept
