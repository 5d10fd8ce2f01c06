"""Typed options: what a plugin can be told, with descriptions, defaults and ranges.

A plugin declares two :class:`OptionSet` objects, one for loading a model (``load_options``;
a change means the model is loaded again) and one per run (``run_options``). The same
declarations give the panel its form (labels, tooltips, ranges, reset to default), give the
command line its ``--set KEY=VALUE`` parsing, and validate every value before a plugin sees it.

Example::

    run_options = OptionSet(
        IntOption(name="max_new_tokens", default=200, minimum=1, maximum=8192,
                  description="How many tokens to write at most."),
        FloatOption(name="temperature", default=0.8, minimum=0.0, maximum=5.0,
                    description="Higher is more surprising."),
        SeedOption(),
    )

Values are plain JSON types (``int``, ``float``, ``bool``, ``str``), so options can be stored
in recipes and sent to another process unchanged.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


class OptionError(ValueError):
    """A value that an option refuses; the message is one sentence a person can act on."""


@dataclass(frozen=True, kw_only=True)
class Option:
    """Base of all option types.

    Attributes:
        name: identifier used in recipes and on the command line (``--set name=value``).
        default: the value used when none is given; must itself be valid.
        description: one or two sentences; shown as the tooltip and in ``--help`` output.
        label: short text for the form; defaults to the name with spaces.
        advanced: shown folded away in the panel's form.
    """

    type_name: ClassVar[str] = "option"

    name: str
    default: Any
    description: str = ""
    label: str = ""

    advanced: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"option name {self.name!r} must be a Python identifier")
        self.validate(self.default)

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def validate(self, value: Any) -> Any:
        """Return ``value`` (normalised) or raise :class:`OptionError`."""
        return value

    def parse(self, text: str) -> Any:
        """Turn command-line text into a valid value or raise :class:`OptionError`."""
        return self.validate(text)

    def schema(self) -> dict[str, Any]:
        """A JSON description of the option (for docs, forms and ``--json`` output)."""
        return {
            "name": self.name,
            "type": self.type_name,
            "default": self.default,
            "description": self.description,
            "label": self.display_label,
            "advanced": self.advanced,
        }

    def _fail(self, message: str) -> OptionError:
        return OptionError(f"Option '{self.name}': {message}.")


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    if minimum is not None:
        return f"at least {minimum}"
    return f"at most {maximum}"


@dataclass(frozen=True, kw_only=True)
class IntOption(Option):
    """A whole number, optionally within ``[minimum, maximum]``."""

    type_name: ClassVar[str] = "int"
    default: int
    minimum: int | None = None
    maximum: int | None = None
    step: int = 1

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self._fail(f"expected a whole number, got {value!r}")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise self._fail(
                f"{value} is out of range, must be {_range_text(self.minimum, self.maximum)}"
            )
        return value

    def parse(self, text: str) -> int:
        try:
            return self.validate(int(text.strip()))
        except ValueError as exc:
            if isinstance(exc, OptionError):
                raise
            raise self._fail(f"expected a whole number, got {text!r}") from None

    def schema(self) -> dict[str, Any]:
        return super().schema() | {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
        }


@dataclass(frozen=True, kw_only=True)
class SeedOption(IntOption):
    """The random seed; -1 means "pick one at random" and the seed used goes into the recipe."""

    type_name: ClassVar[str] = "seed"
    name: str = "seed"
    default: int = -1
    description: str = "Same seed and settings give the same result; -1 picks a new one each run."
    minimum: int | None = -1
    maximum: int | None = 2**32 - 1


@dataclass(frozen=True, kw_only=True)
class FloatOption(Option):
    """A finite real number, optionally within ``[minimum, maximum]``."""

    type_name: ClassVar[str] = "float"
    default: float
    minimum: float | None = None
    maximum: float | None = None
    step: float = 0.1
    decimals: int = 2

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(f"expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise self._fail("expected a finite number")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise self._fail(
                f"{value} is out of range, must be {_range_text(self.minimum, self.maximum)}"
            )
        return value

    def parse(self, text: str) -> float:
        try:
            number = float(text.strip())
        except ValueError:
            raise self._fail(f"expected a number, got {text!r}") from None
        return self.validate(number)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "decimals": self.decimals,
        }


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, kw_only=True)
class BoolOption(Option):
    """On or off."""

    type_name: ClassVar[str] = "bool"
    default: bool

    def validate(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._fail(f"expected true or false, got {value!r}")
        return value

    def parse(self, text: str) -> bool:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise self._fail(f"expected true or false, got {text!r}")


@dataclass(frozen=True, kw_only=True)
class ChoiceOption(Option):
    """One of a list of strings, shown as a drop-down.

    ``choices_from``: a function that lists more choices when Studio runs, for what only this
    machine knows (the voices a program has installed). It is called once per process, the
    first time the choices are needed (never at import), and must be cheap; its choices follow
    the fixed ``choices``. When it fails, only the fixed choices and the default are offered.
    The default is always a valid choice.

    ``previews``: (choice, image file) pairs; the window shows each choice with its picture
    (a style's thumbnail), as image tools do. Choices without one show their name alone.
    """

    type_name: ClassVar[str] = "choice"
    default: str
    choices: tuple[str, ...] = ()
    choices_from: Callable[[], Iterable[str]] | None = field(default=None, compare=False)
    previews: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.choices_from is None and not self.choices:
            raise ValueError(f"choice option {self.name!r} has no choices")
        super().__post_init__()

    def current_choices(self) -> tuple[str, ...]:
        """Every valid value: the fixed choices, then those ``choices_from`` lists here."""
        if self.choices_from is None:
            return self.choices
        found = self.__dict__.get("_found")
        if found is None:
            try:
                more = [str(choice) for choice in self.choices_from()]
            except Exception:  # a missing program: the fixed choices still work
                more = []
            found = tuple(dict.fromkeys([*self.choices, self.default, *more]))
            object.__setattr__(self, "_found", found)  # listed once per process
        return found

    def validate(self, value: Any) -> str:
        if self.choices_from is not None and value == self.default:
            return value  # valid without asking the machine (class definitions stay instant)
        choices = self.current_choices()
        if value not in choices:
            shown = ", ".join(choices[:20]) + (" …" if len(choices) > 20 else "")
            raise self._fail(f"{value!r} is not one of {shown}")
        return value

    def parse(self, text: str) -> str:
        return self.validate(text.strip())

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"choices": list(self.current_choices())}


@dataclass(frozen=True, kw_only=True)
class TextOption(Option):
    """Free text, optionally limited in length; ``multiline`` asks for a text box."""

    type_name: ClassVar[str] = "text"
    default: str = ""
    multiline: bool = False
    max_length: int | None = None

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(f"expected text, got {value!r}")
        if self.max_length is not None and len(value) > self.max_length:
            raise self._fail(f"text is {len(value)} characters, the limit is {self.max_length}")
        return value

    def parse(self, text: str) -> str:
        return self.validate(text)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"multiline": self.multiline, "max_length": self.max_length}


@dataclass(frozen=True, kw_only=True)
class ModelOption(TextOption):
    """The ``model`` load option: a local file or folder, or a known model id.

    An empty value means the plugin's embedded default model. Studio resolves the value to
    files on disk before the plugin loads anything and hands them over as
    :class:`studio.plugin_api.ResolvedModel`.
    """

    type_name: ClassVar[str] = "model"
    name: str = "model"
    description: str = (
        "A local model folder or file, or the id of a known model; empty uses the default."
    )


@dataclass(frozen=True)
class LoraUse:
    """One LoRA of a run: its name (a library LoRA's name, or its file's path) and strength."""

    name: str
    strength: float = 1.0

    def __str__(self) -> str:
        return f"{self.name}:{self.strength:g}"


LORA_TAG = re.compile(r"<(lora|lyco):([^:<>]+)((?::[^:<>]*)*)>", re.IGNORECASE)
"""AUTOMATIC1111's extra-network tag in a prompt: its kind (``lora``, or LyCORIS's ``lyco``),
the name, then ``:``-separated parameters: ``<lora:NAME:STRENGTH>``, or the text encoder's and
the UNet's strengths (``<lora:NAME:0.8:0.5>``, ``<lora:NAME:te=0.8:unet=0.5>``)."""


def take_lora_tags(prompt: str) -> tuple[str, tuple[LoraUse, ...]]:
    """The prompt without its ``<lora:NAME:STRENGTH>`` tags, and the LoRAs they name (a
    missing or unreadable strength is 1; a further parameter is read and not used)."""
    uses = []

    def take(match: re.Match[str]) -> str:
        if match.group(1).lower() != "lora":
            return match.group(0)
        first = match.group(3).split(":")[1:2]
        try:
            strength = float(first[0]) if first and first[0] else 1.0
        except ValueError:
            strength = 1.0
        uses.append(LoraUse(match.group(2).strip(), strength))
        return ""

    text = LORA_TAG.sub(take, prompt)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.;])", r"\1", text).strip(" ,")
    return text, tuple(uses)


@dataclass(frozen=True, kw_only=True)
class LoraOption(TextOption):
    """The ``loras`` run option of an image plugin: LoRAs to apply, each ``NAME:STRENGTH``,
    separated by ``;`` or new lines ("ink:0.7; film-grain:0.4"). A name is a LoRA of the model
    library (its file name without ``.safetensors``) or a file's path.

    Studio finds each named LoRA before the job runs and hands the plugin the paths (the value
    the plugin and the recipe see is ``PATH:STRENGTH; ...``). AUTOMATIC1111's
    ``<lora:NAME:STRENGTH>`` tags in the prompt are taken out of it and added here."""

    type_name: ClassVar[str] = "loras"
    name: str = "loras"
    label: str = "LoRAs"
    description: str = (
        "LoRAs to apply, each NAME:STRENGTH, separated by ';' (\"ink:0.7; grain:0.4\"). A "
        "name is a LoRA in the model library (View > Models) or a file's path; "
        "<lora:NAME:STRENGTH> in the prompt works too."
    )
    most: ClassVar[float] = 10.0

    @staticmethod
    def uses(value: str) -> tuple[LoraUse, ...]:
        """The LoRAs of a valid value, in order."""
        found = []
        for part in re.split(r"[;\n]", value or ""):
            part = part.strip()
            if not part:
                continue
            name, colon, strength = part.rpartition(":")
            try:
                number = float(strength) if colon else None
            except ValueError:
                number = None
            if number is None:  # no strength (or a path's drive letter): full strength
                found.append(LoraUse(part, 1.0))
            else:
                found.append(LoraUse(name.strip(), number))
        return tuple(found)

    @staticmethod
    def text(uses: Sequence[LoraUse]) -> str:
        return "; ".join(str(use) for use in uses)

    def validate(self, value: Any) -> str:
        value = super().validate(value)
        for use in self.uses(value):
            if not use.name:
                raise self._fail(f"a LoRA without a name in {value!r}")
            if not math.isfinite(use.strength) or abs(use.strength) > self.most:
                raise self._fail(
                    f"the strength of {use.name} is {use.strength:g}; it must be between "
                    f"-{self.most:g} and {self.most:g}"
                )
        return value


class OptionSet:
    """An ordered, immutable collection of options with validation of whole value sets."""

    def __init__(self, *options: Option) -> None:
        names = [option.name for option in options]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate option names: {', '.join(duplicates)}")
        self._options: dict[str, Option] = {option.name: option for option in options}

    def __iter__(self) -> Iterator[Option]:
        return iter(self._options.values())

    def __len__(self) -> int:
        return len(self._options)

    def __contains__(self, name: object) -> bool:
        return name in self._options

    def __getitem__(self, name: str) -> Option:
        return self._options[name]

    def __repr__(self) -> str:
        return f"OptionSet({', '.join(self._options)})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._options)

    def defaults(self) -> dict[str, Any]:
        return {name: option.default for name, option in self._options.items()}

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return a complete, valid value set: given values checked, the rest defaulted.

        Raises :class:`OptionError` for an unknown name or an invalid value.
        """
        unknown = [name for name in values if name not in self._options]
        if unknown:
            known = ", ".join(self._options) or "none"
            raise OptionError(f"Unknown option '{unknown[0]}' (known options: {known}).")
        result = self.defaults()
        for name, value in values.items():
            result[name] = self._options[name].validate(value)
        return result

    def parse(self, name: str, text: str) -> Any:
        """Parse command-line text for one option."""
        if name not in self._options:
            raise OptionError(f"Unknown option '{name}'.")
        return self._options[name].parse(text)

    def schema(self) -> list[dict[str, Any]]:
        return [option.schema() for option in self._options.values()]


def choose_seed(run_options: Mapping[str, Any]) -> dict[str, Any]:
    """``run_options`` with a ``seed`` of -1 replaced by a random seed (0 to 2**32 - 1).

    Studio does this before every run (and the contract test before its own), so a plugin
    never sees -1: it uses the seed it is given and records it on its assets.
    """
    options = dict(run_options)
    if options.get("seed") == -1:
        options["seed"] = random.randrange(2**32)
    return options
