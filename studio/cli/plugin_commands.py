"""``studio plugins show ID``: one plugin's facts and every setting ``--set`` takes."""

from __future__ import annotations

import argparse
import difflib
import json
import textwrap
from typing import Any

from studio.core.errors import UserError
from studio.core.registry import PluginRecord, PluginUnavailable
from studio.plugin_api import REQUEST_TYPE_FOR_PANEL, ModelSpec, Option

EXIT_OK = 0
WIDTH = 92
"""Where descriptions wrap in the text output."""

SHOW_DESCRIPTION = """\
Show a plugin: name, panels, version, licence, description, the models it ships, the input
files it takes (--input ROLE=FILE), the request fields, and its options: load options (used
when the model loads) and run options (each run), each with its type, default, range or
choices and description. Every one of them is a KEY that 'studio generate --set KEY=VALUE'
takes."""


def add_plugin_show(plugin_commands: argparse._SubParsersAction) -> None:
    """Register ``studio plugins show``."""
    show = plugin_commands.add_parser(
        "show",
        help="a plugin's facts and its options (the keys of --set)",
        description=SHOW_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("plugin_id", metavar="ID", help="a plugin id (see 'studio plugins list')")
    show.add_argument("--json", action="store_true", help="print the plugin as JSON")
    show.set_defaults(handler=cmd_plugins_show)


def find_record(services: Any, plugin_id: str) -> PluginRecord:
    """The plugin with this id; an unknown id is one sentence naming the nearest ids."""
    try:
        return services.registry.get(plugin_id)
    except PluginUnavailable:
        pass
    ids = [record.id for record in services.registry.records()]
    wanted = plugin_id.casefold()
    near = [i for i in ids if wanted and wanted in i.casefold()]
    near += [i for i in difflib.get_close_matches(plugin_id, ids, n=3, cutoff=0.6) if i not in near]
    near = near[:3]
    listed = " or ".join([", ".join(near[:-1]), near[-1]] if len(near) > 1 else near)
    hint = f"; did you mean {listed}?" if near else "."
    raise UserError(
        f"No plugin with the id '{plugin_id}' is installed (see 'studio plugins list'){hint}"
    )


def _spec(services: Any, record: PluginRecord) -> ModelSpec | None:
    if not record.enabled:
        return None
    try:
        return services.registry.spec(record.id)
    except PluginUnavailable:
        return None  # its code failed to load: the record now says why


def plugin_json(record: PluginRecord, spec: ModelSpec | None) -> dict[str, Any]:
    """A plugin as ``studio plugins show --json`` prints it."""
    manifest = record.manifest
    data: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "version": record.version or None,
        "panels": [panel.value for panel in record.panels],
        "licence": manifest.licence if manifest else None,
        "description": manifest.description if manifest else "",
        "source": record.source.value,
        "location": record.location,
        "enabled": record.enabled,
        "reason": record.reason,
        "requires": list(manifest.requires) if manifest else [],
        "models": [
            {
                "id": model.id,
                "name": model.name,
                "licence": model.licence,
                "embedded": model.embedded,
                "description": model.description,
            }
            for model in (manifest.models if manifest else ())
        ],
        "inputs": None,
        "request_fields": None,
        "load_options": None,
        "run_options": None,
    }
    if spec is not None:
        data["inputs"] = [
            {
                "role": slot.role,
                "label": slot.label,
                "kind": slot.kind.value,
                "required": slot.required,
                "description": slot.description,
            }
            for slot in spec.inputs
        ]
        data["request_fields"] = _request_fields(spec)
        data["load_options"] = spec.load_options.schema()
        data["run_options"] = spec.run_options.schema()
    return data


def _request_fields(spec: ModelSpec) -> list[str]:
    return [name for name in REQUEST_TYPE_FOR_PANEL[spec.panel].field_names() if spec.reads(name)]


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent
    )


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def option_facts(option: Option) -> str:
    """Type, default, range or choices of an option, on one line."""
    schema = option.schema()
    facts = [schema["type"], f"default {json.dumps(option.default, ensure_ascii=False)}"]
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        facts.append(f"{_number(low)} to {_number(high)}")
    elif low is not None:
        facts.append(f"at least {_number(low)}")
    elif high is not None:
        facts.append(f"at most {_number(high)}")
    if schema.get("step") is not None and schema["type"] in ("int", "float"):
        facts.append(f"step {_number(schema['step'])}")
    if schema.get("max_length") is not None:
        facts.append(f"at most {schema['max_length']} characters")
    if schema.get("choices"):
        facts.append(
            "one of " + ", ".join(json.dumps(c, ensure_ascii=False) for c in schema["choices"])
        )
    if option.advanced:
        facts.append("advanced")
    return "; ".join(facts)


def _option_lines(title: str, options: Any) -> list[str]:
    lines = ["", title]
    if not len(options):
        return [*lines, "  none"]
    for option in options:
        lines += textwrap.wrap(
            f"{option.name} ({option_facts(option)})",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
        lines += _wrapped(option.description, "      ")
    return lines


def plugin_text(record: PluginRecord, spec: ModelSpec | None) -> list[str]:
    """A plugin as ``studio plugins show`` prints it."""
    manifest = record.manifest
    lines = [f"{record.id}: {record.name}"]
    facts = [
        ("Panels", ", ".join(p.value for p in record.panels) or "-"),
        ("Version", record.version or "-"),
        ("Licence", manifest.licence if manifest else "-"),
        ("Source", f"{record.source.value} ({record.location})"),
        ("State", "enabled" if record.enabled else f"disabled: {record.reason}"),
    ]
    if manifest and manifest.requires:
        facts.append(("Requires", ", ".join(manifest.requires)))
    lines += [f"{label + ':':10} {value}" for label, value in facts]
    if manifest and manifest.description:
        lines += ["", *_wrapped(manifest.description, "")]
    if manifest and manifest.models:
        lines += ["", "Models it ships or knows (--set model=ID):"]
        for model in manifest.models:
            shipped = "ships with it" if model.embedded else "bring its files"
            licence = f"licence {model.licence}; " if model.licence else ""
            lines += textwrap.wrap(
                f"{model.id}: {model.name} ({licence}{shipped})",
                WIDTH,
                initial_indent="  ",
                subsequent_indent="      ",
            )
            lines += _wrapped(model.description, "      ") if model.description else []
    if spec is None:
        lines += ["", "Its options cannot be read while it is disabled."]
        return lines
    if spec.inputs:
        lines += ["", "Input files (--input ROLE=FILE):"]
        for slot in spec.inputs:
            need = "required" if slot.required else "optional"
            lines.append(f"  {slot.role}: {slot.label} ({slot.kind.value}, {need})")
            lines += _wrapped(slot.description, "      ") if slot.description else []
    fields = _request_fields(spec)
    lines += ["", "Request fields (--set KEY=TEXT):", f"  {', '.join(fields) or 'none'}"]
    lines += _option_lines(
        "Load options (--set KEY=VALUE; used when the model loads):", spec.load_options
    )
    lines += _option_lines("Run options (--set KEY=VALUE; each run):", spec.run_options)
    return lines


def cmd_plugins_show(args: argparse.Namespace, services: Any) -> int:
    record = find_record(services, args.plugin_id)
    spec = _spec(services, record)
    if spec is None:
        record = services.registry.get(record.id)  # a failed import names its reason now
    if args.json:
        print(json.dumps(plugin_json(record, spec), indent=2, ensure_ascii=False))
    else:
        print("\n".join(plugin_text(record, spec)))
    return EXIT_OK
