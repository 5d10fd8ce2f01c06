"""The options form is built from the option types, with tooltips, defaults and reset."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
)

from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    KnownModel,
    ModelOption,
    OptionSet,
    SeedOption,
    TextOption,
)
from studio.ui.options_form import ModelPicker, OptionsForm

OPTIONS = OptionSet(
    IntOption(name="steps", default=20, minimum=1, maximum=150, description="Denoising steps."),
    FloatOption(name="guidance", default=7.5, minimum=0.0, maximum=30.0, description="CFG scale."),
    BoolOption(name="preview", default=True, description="Show previews."),
    ChoiceOption(name="sampler", default="euler", choices=("euler", "ddim"), description="How."),
    TextOption(name="stop", default="", description="Stop here."),
    TextOption(name="system", default="", multiline=True, description="System prompt."),
    SeedOption(),
    IntOption(name="threads", default=1, minimum=1, maximum=8, description="T.", advanced=True),
)


def test_each_option_type_gets_its_editor_with_a_tooltip(qtbot):
    form = OptionsForm(OPTIONS)
    qtbot.addWidget(form)
    kinds = {name: type(editor.widget) for name, editor in form.editors.items()}
    assert kinds["steps"] is QSpinBox
    assert kinds["guidance"] is QDoubleSpinBox
    assert kinds["preview"] is QCheckBox
    assert kinds["sampler"] is QComboBox
    assert kinds["stop"] is QLineEdit
    assert kinds["system"] is QPlainTextEdit
    steps = form.editors["steps"].widget
    assert (steps.minimum(), steps.maximum(), steps.value()) == (1, 150, 20)
    assert steps.toolTip() == "Denoising steps.\nRange: 1 to 150.\nDefault: 20."
    assert form.editors["seed"].get() == -1


def test_values_validate_and_reset_restores_defaults(qtbot):
    form = OptionsForm(OPTIONS)
    qtbot.addWidget(form)
    assert form.values() == {}
    form.editors["steps"].put(42)
    form.editors["guidance"].put(3.25)
    form.editors["preview"].put(False)
    form.editors["sampler"].put("ddim")
    form.editors["seed"].put(1234)
    values = form.values()
    assert values == {
        "steps": 42,
        "guidance": 3.25,
        "preview": False,
        "sampler": "ddim",
        "seed": 1234,
    }
    assert OPTIONS.validate(values)["steps"] == 42
    form.reset_button.click()
    assert form.values() == {}


def test_set_values_from_a_recipe_reports_unknown_names(qtbot):
    form = OptionsForm(OPTIONS)
    qtbot.addWidget(form)
    unknown = form.set_values({"steps": 5, "mystery": 1, "guidance": 999.0})
    assert form.values() == {"steps": 5}
    assert sorted(unknown) == ["guidance", "mystery"]


def test_advanced_options_are_folded_away(qtbot):
    form = OptionsForm(OPTIONS)
    qtbot.addWidget(form)
    form.show()
    assert not form.editors["threads"].widget.isVisible()
    assert form.editors["steps"].widget.isVisible()


def test_model_picker_offers_known_models_and_free_paths(qtbot):
    known = (
        KnownModel(id="tiny", name="Tiny (embedded)", licence="MIT", embedded=True),
        KnownModel(id="big", name="Big", licence="Apache-2.0"),
    )
    form = OptionsForm(OptionSet(ModelOption()), known_models=known)
    qtbot.addWidget(form)
    picker = form.editors["model"].widget
    assert isinstance(picker, ModelPicker)
    assert picker.value() == ""  # the embedded model is the default
    picker.set_value("big")
    assert form.values() == {"model": "big"}
    picker.set_value("/models/my-folder")
    assert form.values() == {"model": "/models/my-folder"}


def test_imported_models_are_listed_and_remembered(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from studio.core.model_library import ModelLibrary
    from studio.plugin_api import Panel

    library = ModelLibrary(tmp_path / "library.json")
    folder = tmp_path / "my-sd"
    folder.mkdir()

    def make_form():
        form = OptionsForm(
            OptionSet(ModelOption()),
            imported_models=[(e.label, e.path) for e in library.entries(Panel.IMAGE)],
            on_import=lambda path: library.remember(path, Panel.IMAGE),
        )
        qtbot.addWidget(form)
        return form, form.editors["model"].widget

    form, picker = make_form()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    picker.folder_action.trigger()
    assert form.values() == {"model": str(folder)}
    assert [e.path for e in library.entries(Panel.IMAGE)] == [str(folder.resolve())]
    # The next form (another launch, another plugin pick) lists it.
    _, later = make_form()
    labels = [later.combo.itemText(i) for i in range(later.combo.count())]
    assert "my-sd (folder)" in labels
    later.combo.setCurrentIndex(labels.index("my-sd (folder)"))
    assert later.value() == str(folder.resolve())


def test_a_seed_past_a_c_int_is_kept_exactly(qtbot):
    form = OptionsForm(OptionSet(SeedOption()))
    qtbot.addWidget(form)
    seed = 2**32 - 5  # random seeds reach 2**32 - 1
    assert form.set_values({"seed": seed}) == []
    assert form.values() == {"seed": seed}
    form.editors["seed"].widget.dice.click()
    assert 0 <= form.values().get("seed", 0) < 2**32
