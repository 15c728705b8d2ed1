"""Sphinx directives that write the settings reference from the code, never by hand.

``.. settings-table:: SECTION`` renders a configuration section: each setting of
:data:`data_prep.presets.schema.SCHEMA` with its type, what values it may take
(:meth:`~data_prep.presets.schema.Setting.allowed`, the text the error messages use), its
meaning and its value in ``kim2019``, then the settings on which the other shipped presets
differ. ``.. presets-table::`` lists the presets
with their descriptions. Adding a setting to the schema or a preset file changes the page
at the next build.
"""

from __future__ import annotations

import json
from typing import Any

from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

from data_prep.presets import load_preset, preset_names
from data_prep.presets.schema import SCHEMA


def _cell(text: str) -> str:
    """One list-table cell: the text on one line, or an empty cell."""
    return " ".join(str(text).split()) or " "


def preset_value(value: Any) -> str:
    """A setting's value in a preset, as the table shows it (channel records by name)."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return ", ".join(v.get("name", "?") for v in value)
    if isinstance(value, dict) and "name" in value:
        return value["name"]
    return "``" + json.dumps(value) + "``"


def list_table(header: list[str], rows: list[list[str]], widths: str | None = None) -> list[str]:
    """reStructuredText lines of a list-table."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {_cell(row[0])}")
        lines += [f"     - {_cell(cell)}" for cell in row[1:]]
    return lines


class _TableDirective(Directive):
    def render(self, lines: list[str]):
        from docutils import nodes

        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="settings_table"), self.content_offset,
                                container)
        return container.children


class SettingsTable(_TableDirective):
    """``.. settings-table:: data|model|training``: the section's settings with their type,
    allowed values, meaning and value in ``kim2019`` (the papers' preset, ``prep``'s
    default), then a second table of the settings on which another preset differs."""

    required_arguments = 1
    reference = "kim2019"

    def run(self):
        section = self.arguments[0]
        if section not in SCHEMA:
            raise self.error(f"unknown section {section!r}; known: {', '.join(SCHEMA)}")
        presets = {name: load_preset(name).get(section, {}) for name in preset_names()}
        others = [name for name in presets if name != self.reference]

        def value(name: str, setting_name: str) -> str:
            if setting_name not in presets[name]:
                return "(missing)"
            return preset_value(presets[name][setting_name])

        rows, differing = [], []
        for setting_name, setting in SCHEMA[section].items():
            reference = value(self.reference, setting_name)
            rows.append([f"``{setting_name}``", setting.kind, setting.allowed(), setting.meaning,
                         reference])
            values = [value(name, setting_name) for name in others]
            if any(v != reference for v in values):
                differing.append([f"``{setting_name}``", reference,
                                  *[v if v != reference else "=" for v in values]])
        lines = list_table(["setting", "type", "allowed", "meaning", self.reference], rows,
                           widths="3 1 3 3 2")
        lines += ["", f"Where the other presets differ from ``{self.reference}`` (= the same):",
                  ""]
        lines += list_table(["setting", self.reference, *others], differing)
        return self.render(lines)


class PresetsTable(_TableDirective):
    """``.. presets-table::``: every shipped preset and its description."""

    def run(self):
        rows = [[f"``{name}``", load_preset(name).get("description", "")]
                for name in preset_names()]
        return self.render(list_table(["preset", "description"], rows, widths="1 6"))


def setup(app):
    app.add_directive("settings-table", SettingsTable)
    app.add_directive("presets-table", PresetsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
