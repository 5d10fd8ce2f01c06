"""The minimal plugin in studio.plugin_api.plugin's docstring passes check_plugin as written."""

from __future__ import annotations

import textwrap

from studio.plugin_api import plugin
from studio.plugin_api.testing import check_plugin


def test_the_minimal_plugin_of_the_docs_passes_the_contract(tmp_path, monkeypatch):
    doc = plugin.__doc__ or ""
    code = textwrap.dedent(
        doc.split("A minimal plugin that makes its own events::")[1].split("Studio guarantees")[0]
    )
    folder = tmp_path / "shouter"
    folder.mkdir()
    (folder / "shouter.py").write_text(code)
    (folder / "studio-plugin.toml").write_text(
        'id = "docs.shouter"\nname = "Shouter"\nversion = "0.1.0"\napi_version = 1\n'
        'panels = ["writing"]\nlicence = "MIT"\nentry = "shouter:Shouter"\n'
    )
    monkeypatch.syspath_prepend(str(folder))
    check_plugin(folder / "studio-plugin.toml")
