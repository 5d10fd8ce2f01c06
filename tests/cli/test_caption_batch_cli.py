"""``studio generate caption``: one image, a question, and the batch form over a folder, with
the built-in transformers captioner on a tiny random BLIP."""

# The session fixtures are imported by name, so test arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from studio.cli.main import main
from studio.core.project.store import ProjectStore
from studio.plugin_api import AssetKind
from tests.fixtures.tiny_models import (
    tiny_blip_dir,  # noqa: F401 (fixture)
    tiny_blip_vqa_dir,  # noqa: F401 (fixture)
)

PLUGIN = "studio.caption-transformers"


def generate(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["generate", "caption", *args])
    captured = capsys.readouterr()
    data = json.loads(captured.out) if captured.out.strip() and "--json" in args else None
    return code, data, captured.err


def photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, colour in enumerate(((220, 20, 20), (20, 220, 20), (20, 20, 220))):
        path = folder / f"photo-{index}.png"
        Image.new("RGB", (20, 20), colour).save(path)
        paths.append(path)
    (folder / "broken.png").write_bytes(paths[0].read_bytes()[:60])
    (folder / "zero.jpg").write_bytes(b"")
    return paths


def test_one_image_and_a_question(tmp_path, capsys, tiny_blip_dir, tiny_blip_vqa_dir):
    (photo, *_) = photos(tmp_path / "in")
    project = tmp_path / "p.studio"
    common = ["--project", str(project), "--plugin", PLUGIN, "--input", str(photo), "--json"]
    code, data, err = generate(
        capsys, *common, "--set", f"model={tiny_blip_dir}", "--set", "max_new_tokens=5"
    )
    assert code == 0, err
    (asset,) = data["assets"]
    assert asset["kind"] == "caption"
    assert [i["role"] for i in asset["recipe"]["inputs"]] == ["image"]
    code, data, err = generate(
        capsys,
        *common,
        "--set",
        f"model={tiny_blip_vqa_dir}",
        "--set",
        "question=what colour is it?",
    )
    assert code == 0, err
    assert data["assets"][0]["recipe"]["request"] == {"question": "what colour is it?"}


def test_a_folder_gives_one_asset_per_image_and_lists_bad_files(tmp_path, capsys, tiny_blip_dir):
    good = photos(tmp_path / "in")
    project = tmp_path / "p.studio"
    code, data, err = generate(
        capsys,
        "--project",
        str(project),
        "--plugin",
        PLUGIN,
        "--input-dir",
        str(tmp_path / "in"),
        "--set",
        f"model={tiny_blip_dir}",
        "--set",
        "max_new_tokens=5",
        "--sidecar",
        "txt",
        "--json",
    )
    assert code == 0, err
    assert [Path(a["file"]).name for a in data["assets"]] == [p.name for p in good]
    assert sorted(Path(s["file"]).name for s in data["skipped"]) == ["broken.png", "zero.jpg"]
    assert any("zero.jpg skipped: it is empty" in s["message"] for s in data["skipped"])
    assert "3 captioned, 2 skipped, 0 failed" in err
    store = ProjectStore.open(project, read_only=True)
    try:
        for entry in data["assets"]:
            caption = store.get_asset(entry["asset_id"])
            assert caption.kind is AssetKind.CAPTION
            (link,) = caption.recipe.inputs
            assert link.asset_id == entry["image_asset_id"]
            assert store.get_asset(link.asset_id).kind is AssetKind.IMAGE
            assert Path(entry["sidecar"]).read_text() == entry["caption"] + "\n"
        assert store.counts_by_kind()[AssetKind.CAPTION] == 3
    finally:
        store.close()


def test_input_given_a_folder_and_sidecars_only(tmp_path, capsys, tiny_blip_dir):
    photos(tmp_path / "in")
    (tmp_path / "in" / "photo-0.caption").write_text("kept\n")
    project = tmp_path / "p.studio"
    code, data, err = generate(
        capsys,
        "--project",
        str(project),
        "--plugin",
        PLUGIN,
        "--input",
        str(tmp_path / "in"),
        "--set",
        f"model={tiny_blip_dir}",
        "--sidecar",
        ".caption",
        "--sidecar-mode",
        "skip",
        "--no-store",
        "--json",
    )
    assert code == 0, err
    assert len(data["assets"]) == 3 and "asset_id" not in data["assets"][0]
    assert (tmp_path / "in" / "photo-0.caption").read_text() == "kept\n"
    assert (tmp_path / "in" / "photo-2.caption").read_text().strip()
    assert not project.exists()


def test_a_batch_without_a_model_is_one_clear_error(tmp_path, capsys):
    photos(tmp_path / "in")
    code, _, err = generate(
        capsys,
        "--project",
        str(tmp_path / "p.studio"),
        "--plugin",
        PLUGIN,
        "--input-dir",
        str(tmp_path / "in"),
    )
    assert code == 2
    assert "choose a model folder" in err and "Traceback" not in err
    assert err.count("choose a model folder") <= 2  # once for the image, once as the reason


def test_batch_options_are_for_captions_only(tmp_path, capsys):
    code = main(
        [
            "generate",
            "text",
            "--project",
            str(tmp_path / "p.studio"),
            "--plugin",
            "studio.writer-transformers",
            "--input-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "are for captions" in capsys.readouterr().err
