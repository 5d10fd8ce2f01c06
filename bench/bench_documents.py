"""Documents: what a typing session costs the project file, and how long a save takes.

A writer types a document of about ``--chars`` characters with small edits (characters typed,
a few taken back, now and then a word changed earlier in the text), at ``--rate`` edits a
second; the Writing panel saves at most once a second. The simulated clock goes into the
store (``now_ns``), so revisions form as they would in real time, without waiting for it.

Scenarios, side by side in one run:
- ``autosave``: a save per second of typing, as the panel does (a revision per minute).
- ``every save a revision``: the same saves, each its own revision (the worst case of the
  format: what one revision costs).
- ``a save per edit``: every edit saved on its own (about five times the panel's saves).

For each: saves, revisions, the document's size, how much the project grew (the file after a
clean close, against the same project holding the final text only), growth ÷ text size,
bytes per revision, and the time of one save (p50, p95) on the project's writer thread.

Then, with ``--gui``, what a save costs the GUI thread in the real Writing panel (taking the
editor's text and queueing it) and how long until it is committed, for documents of 10,000,
200,000 and 1,000,000 characters (offscreen Qt).

    .venv/bin/python bench/bench_documents.py [--chars 20000] [--rate 5] [--dir D] [--gui]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from studio.core.project import ProjectStore
from studio.core.project.documents import REVISION_SPAN_NS

SECOND = 1_000_000_000
WORDS = (
    *("the", "lighthouse", "keeper", "counted", "waves", "every", "night", "and", "wrote"),
    *("down", "what", "the", "sea", "said", "to", "him", "in", "a", "small", "blue"),
    *("notebook", "that", "nobody", "else", "was", "allowed", "to", "read"),
)


def typing_session(chars: int, seed: int = 7) -> list[str]:
    """The text after each edit of a session that ends near ``chars`` characters: words typed
    a letter at a time (a paragraph now and then), some letters taken back, and now and then
    a word put in earlier in the text."""
    rng = random.Random(seed)
    text = ""
    word = ""
    states = []
    while len(text) < chars:
        roll = rng.random()
        if roll < 0.9:  # the next letter of the word being typed
            if not word:
                word = rng.choice(WORDS) + ("\n\n" if rng.random() < 0.02 else " ")
            text += word[0]
            word = word[1:]
        elif roll < 0.97 and text:  # a backspace
            text = text[:-1]
        else:  # a word put in earlier, after a space
            spaces = [i + 1 for i, c in enumerate(text) if c == " "]
            if spaces:
                at = rng.choice(spaces)
                text = text[:at] + rng.choice(WORDS) + " " + text[at:]
        states.append(text)
    return states


def run(path: Path, states: list[str], *, edits_per_save: int, edit_ns: int, apart_ns: int) -> dict:
    """Type ``states`` into a new document; a save every ``edits_per_save`` edits, and
    ``apart_ns`` more between saves (past the revision span: each save a revision)."""
    with ProjectStore.create(path) as store:
        document = store.create_document("").asset.id
        now = 1_800_000_000 * SECOND
        timings = []
        saves = 0
        for index in range(edits_per_save - 1, len(states), edits_per_save):
            now += edit_ns * edits_per_save + apart_ns
            start = time.perf_counter()
            store.save_document(document, states[index], now_ns=now)
            timings.append(time.perf_counter() - start)
            saves += 1
        if (len(states) - 1) % edits_per_save != edits_per_save - 1:
            store.save_document(document, states[-1], now_ns=now + SECOND)
            saves += 1
        revisions = len(store.document_revisions(document))
        assert store.open_document(document).text == states[-1]
    size = path.stat().st_size
    return {"saves": saves, "revisions": revisions, "size": size, "timings": timings}


def baseline(path: Path, text: str) -> int:
    """The size of a project holding only the final text as a document."""
    with ProjectStore.create(path) as store:
        store.create_document(text)
    return path.stat().st_size


def gui_costs(sizes: tuple[int, ...] = (10_000, 200_000, 1_000_000), saves: int = 20) -> None:
    """Time of one autosave on the GUI thread of the real Writing panel, and until commit."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-documents-gui-")
    from PySide6.QtWidgets import QApplication

    from studio.core.services import build_core_services
    from studio.qt.panel_jobs import PanelJobRunner
    from studio.qt.project_session import ProjectSession
    from studio.ui.panels.writing import WritingPanel

    app = QApplication.instance() or QApplication([])
    services = build_core_services()
    session = ProjectSession(services.paths.data_dir)
    runner = PanelJobRunner(services.executor, "writing")
    panel = WritingPanel(services, session, runner)
    panel.show()
    print(f"{'document':>12} {'GUI thread per save':>20} {'committed after':>16}")
    for size in sizes:
        sentence = "The lighthouse keeper counted the waves. "
        panel.open_text((sentence * (size // len(sentence) + 1))[:size])
        panel.documents.flush()
        on_gui, committed = [], []
        for _ in range(saves):
            panel.document.textCursor().insertText("x")  # one keystroke's change
            start = time.perf_counter()
            panel.documents._save_typing()  # what the autosave timer runs
            on_gui.append(time.perf_counter() - start)
            panel.documents.flush()
            committed.append(time.perf_counter() - start)
        print(
            f"{size:>12,} {statistics.median(on_gui) * 1000:>17.2f} ms "
            f"{statistics.median(committed) * 1000:>13.1f} ms"
        )
    runner.shutdown()
    session.close()
    app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=5.0, help="edits a second")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--gui", action="store_true", help="also time saves in the panel")
    args = parser.parse_args()
    states = typing_session(args.chars)
    final = states[-1]
    edit_ns = int(SECOND / args.rate)
    per_second = max(1, round(args.rate))
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-documents-"))
    text_bytes = len(final.encode("utf-8"))
    base = baseline(folder / "baseline.studio", final)
    print(
        f"{len(states):,} edits at {args.rate:g}/s ({len(states) / args.rate / 60:.0f} minutes "
        f"of typing), final text {text_bytes:,} bytes; a project with only that text: "
        f"{base:,} bytes"
    )
    scenarios = (
        ("autosave (1 s)", per_second, 0),
        ("every save a revision", per_second, REVISION_SPAN_NS),
        ("a save per edit", 1, 0),
    )
    header = (
        f"{'scenario':24} {'saves':>7} {'revisions':>9} {'growth':>10} {'÷ text':>7} "
        f"{'B/revision':>10} {'save p50':>9} {'save p95':>9}"
    )
    print(header)
    for name, edits_per_save, apart in scenarios:
        path = folder / f"{name.split()[0]}-{edits_per_save}-{apart}.studio"
        result = run(path, states, edits_per_save=edits_per_save, edit_ns=edit_ns, apart_ns=apart)
        growth = result["size"] - base
        per_revision = growth / max(1, result["revisions"] - 1)
        timings = sorted(result["timings"])
        p50 = statistics.median(timings) * 1000
        p95 = timings[int(0.95 * (len(timings) - 1))] * 1000
        print(
            f"{name:24} {result['saves']:>7,} {result['revisions']:>9,} {growth:>10,} "
            f"{growth / text_bytes:>7.2f} {per_revision:>10.0f} {p50:>7.1f}ms {p95:>7.1f}ms"
        )
    print(
        "growth: the project file after a clean close, minus the project with only the final "
        "text; B/revision: that growth over the revisions after the first."
    )
    if args.gui:
        gui_costs()


if __name__ == "__main__":
    main()
