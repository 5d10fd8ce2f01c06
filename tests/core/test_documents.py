"""Documents in the project: saving, revisions (typing amends), every revision rebuilt,
lineage to the generations that went in, and what survives closing and a Save As."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.core.project import ProjectError, ProjectStore
from studio.core.project.documents import (
    REVISION_SPAN_NS,
    DocumentView,
    RevisionOrigin,
    document_title,
)
from studio.core.recipe import Recipe, RecipeOrigin
from studio.plugin_api.kinds import AssetKind, Panel

SECOND = 1_000_000_000
T0 = 1_800_000_000 * SECOND


@pytest.fixture
def store(tmp_path: Path):
    with ProjectStore.create(tmp_path / "p.studio") as opened:
        yield opened


def test_a_new_document_is_an_asset_with_a_first_revision(store: ProjectStore) -> None:
    opened = store.create_document("# My story\n\nOnce upon a time.")
    asset = opened.asset
    assert asset.kind is AssetKind.DOCUMENT and asset.media_type == "text/markdown"
    assert asset.title == "My story"  # the first line, without its heading marks
    assert asset.recipe.origin is RecipeOrigin.WRITTEN and asset.recipe.panel is Panel.WRITING
    assert opened.revision == 1 and opened.auto_title
    assert store.read_blob(asset.id) == b"# My story\n\nOnce upon a time."
    (revision,) = store.document_revisions(asset.id)
    assert revision.origin is RevisionOrigin.NEW and revision.chars == len(opened.text)
    assert [a.id for a in store.documents()] == [asset.id]
    assert store.counts_by_kind()[AssetKind.DOCUMENT] == 1


def test_typing_within_a_minute_amends_one_revision_and_later_typing_adds_one(
    store: ProjectStore,
) -> None:
    doc = store.create_document("").asset.id
    texts = ["O", "On", "Once", "Once upon"]
    for second, text in enumerate(texts):
        saved = store.save_document(doc, text, now_ns=T0 + second * SECOND)
    assert saved.changed and saved.revision == 2 and saved.amended
    later = store.save_document(doc, "Once upon a time", now_ns=T0 + REVISION_SPAN_NS + SECOND)
    assert later.revision == 3 and not later.amended
    revisions = store.document_revisions(doc)
    assert [r.number for r in revisions] == [3, 2, 1]
    assert [r.origin for r in revisions] == [
        RevisionOrigin.TYPING,
        RevisionOrigin.TYPING,
        RevisionOrigin.NEW,
    ]
    assert store.document_text_at(doc, 3) == "Once upon a time"
    assert store.document_text_at(doc, 2) == "Once upon"
    assert store.document_text_at(doc, 1) == ""
    assert store.get_asset(doc).title == "Once upon a time"  # follows the first line


def test_the_same_text_again_adds_no_revision_but_keeps_the_view(store: ProjectStore) -> None:
    doc = store.create_document("text").asset.id
    saved = store.save_document(doc, "text", view=DocumentView(cursor=2, anchor=1, scroll=0))
    assert not saved.changed and saved.revision == 1
    assert store.open_document(doc).view == DocumentView(cursor=2, anchor=1, scroll=0)


def test_an_accepted_generation_is_a_revision_with_its_asset(store: ProjectStore) -> None:
    doc = store.create_document("Once upon a time.").asset.id
    store.save_document(doc, "Once upon a time. The end.", now_ns=T0)
    generated = store.add_asset(
        kind=AssetKind.TEXT,
        data=b" A fox came.",
        media_type="text/plain",
        recipe=Recipe(panel=Panel.WRITING, plugin_id="echo", request={"prompt": "Once"}),
    )
    saved = store.save_document(
        doc,
        "Once upon a time. A fox came. The end.",
        origin=RevisionOrigin.GENERATION,
        source_asset_id=generated.id,
        details={"at": [17, 29]},
        now_ns=T0 + SECOND,
    )
    assert saved.revision == 3 and not saved.amended  # never folded into the typing before it
    head = store.document_revisions(doc)[0]
    assert head.origin is RevisionOrigin.GENERATION
    assert head.source_asset_id == generated.id and dict(head.details) == {"at": [17, 29]}
    (use,) = store.document_uses(generated.id)
    assert (use.document_id, use.revision, use.origin) == (doc, 3, RevisionOrigin.GENERATION)
    # Typing right after the generation is a revision of its own again.
    after = store.save_document(doc, "Once upon a time. A fox came. The end!", now_ns=T0 + 2)
    assert after.revision == 4
    assert store.document_text_at(doc, 2) == "Once upon a time. The end."


def test_a_renamed_document_keeps_its_name(store: ProjectStore) -> None:
    doc = store.create_document("first line").asset.id
    store.rename_asset(doc, "Chapter One")
    store.save_document(doc, "another first line")
    assert store.get_asset(doc).title == "Chapter One"
    assert not store.open_document(doc).auto_title


def test_a_document_in_the_trash_cannot_be_saved_and_purging_removes_its_history(
    store: ProjectStore,
) -> None:
    doc = store.create_document("gone soon").asset.id
    store.save_document(doc, "gone soon, edited")
    store.delete_asset(doc)
    with pytest.raises(ProjectError, match="in the trash"):
        store.save_document(doc, "edited in the trash")
    assert store.documents() == []
    store.undelete_asset(doc)
    assert [a.id for a in store.documents()] == [doc]
    store.delete_asset(doc)
    assert store.purge_deleted() == 1
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    try:
        counts = [
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("documents", "document_revisions", "blobs")
        ]
    finally:
        conn.close()
    assert counts == [0, 0, 0]


def test_old_texts_leave_no_blobs_behind(store: ProjectStore) -> None:
    doc = store.create_document("a").asset.id
    for n in range(50):
        store.save_document(doc, "a" + "b" * n, now_ns=T0 + n * REVISION_SPAN_NS)
    assert store.stats().blobs == 1
    assert store.integrity_check().ok


def test_reopening_gives_back_text_view_and_the_document_open_last(tmp_path: Path) -> None:
    path = tmp_path / "reopen.studio"
    with ProjectStore.create(path) as store:
        first = store.create_document("first").asset.id
        second = store.create_document("second document").asset.id
        store.save_document(second, "second document, longer", view=DocumentView(5, 3, 2))
        store.store_document_view(second, DocumentView(5, 3, 2), opened=True).result()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reopen.studio"]
    with ProjectStore.open(path) as store:
        assert store.last_opened_document() == second
        opened = store.open_document(second)
        assert opened.text == "second document, longer"
        assert opened.view == DocumentView(5, 3, 2)
        assert store.open_document(first).text == "first"
        assert store.integrity_check().ok


def test_save_as_keeps_documents_with_their_history(store: ProjectStore, tmp_path: Path) -> None:
    doc = store.create_document("v1").asset.id
    store.save_document(doc, "v2", now_ns=T0)
    store.save_document_async(doc, "v3", origin=RevisionOrigin.RESTORE, now_ns=T0 + 1)
    store.save_as(tmp_path / "copy.studio")  # queued behind the save: it is in the copy
    assert store.open_document(doc).text == "v3"
    assert [store.document_text_at(doc, n) for n in (1, 2, 3)] == ["v1", "v2", "v3"]


def test_integrity_check_finds_a_damaged_history(store: ProjectStore) -> None:
    doc = store.create_document("one").asset.id
    store.save_document(doc, "one two", now_ns=T0)
    store.save_document(doc, "one two three", now_ns=T0 + REVISION_SPAN_NS)
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE document_revisions SET back = '[[0,99,\"x\"]]' WHERE number = 2")
    conn.commit()
    conn.close()
    with ProjectStore.open(path) as reopened:
        report = reopened.integrity_check()
    assert not report.ok and f"document {doc}" in report.summary


def test_document_titles() -> None:
    assert document_title("") == "Untitled document"
    assert document_title("\n\n## Chapter 2 ##\ntext") == "Chapter 2 ##"
    assert document_title("x" * 200).endswith("…") and len(document_title("x" * 200)) == 80


def test_search_finds_words_of_a_document(store: ProjectStore) -> None:
    doc = store.create_document("The lighthouse keeper").asset.id
    store.save_document(doc, "The lighthouse keeper slept.")
    assert [a.id for a in store.list_assets(search="slept")] == [doc]


def test_thousands_of_small_edits_grow_the_project_by_a_small_multiple_of_the_text(
    tmp_path: Path,
) -> None:
    # Words typed a letter at a time, some taken back, now and then a word put in earlier;
    # saved once a second of typing (five edits), as the Writing panel saves.
    import random

    rng = random.Random(3)
    words = ("the", "keeper", "of", "the", "light", "wrote", "what", "the", "sea", "said")
    path = tmp_path / "typing.studio"
    text, word, edits = "", "", 0
    with ProjectStore.create(path) as store:
        doc = store.create_document("").asset.id
        start_ns = T0
        while len(text) < 8000:
            roll = rng.random()
            if roll < 0.9:
                word = word or rng.choice(words) + " "
                text, word = text + word[0], word[1:]
            elif roll < 0.97:
                text = text[:-1]
            else:
                at = rng.randrange(len(text) + 1)
                text = text[:at] + rng.choice(words) + " " + text[at:]
            edits += 1
            if edits % 5 == 0:
                store.save_document(doc, text, now_ns=start_ns + edits * SECOND // 5)
        store.save_document(doc, text, now_ns=start_ns + (edits + 5) * SECOND // 5)
        revisions = len(store.document_revisions(doc))
    assert edits > 8000 and revisions > 20
    with ProjectStore.create(tmp_path / "final-only.studio") as store:
        store.create_document(text)
    growth = path.stat().st_size - (tmp_path / "final-only.studio").stat().st_size
    assert growth <= 3 * len(text.encode()), (growth, len(text), revisions)
    with ProjectStore.open(path) as store:
        assert store.integrity_check().ok
        assert store.open_document(doc).text == text
