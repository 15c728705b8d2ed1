"""Sphinx directives that write the settings reference from the code, never by hand.

``.. settings-table:: SECTION`` renders one table a configuration section: each setting of
:data:`data_prep.presets.schema.SCHEMA` with its type, what values it may take
(:meth:`~data_prep.presets.schema.Setting.allowed`, the text the error messages use), its
meaning, and its value in every shipped preset. ``.. presets-table::`` lists the presets
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
    """``.. settings-table:: data|model|training``"""

    required_arguments = 1

    def run(self):
        section = self.arguments[0]
        if section not in SCHEMA:
            raise self.error(f"unknown section {section!r}; known: {', '.join(SCHEMA)}")
        names = preset_names()
        presets = {name: load_preset(name) for name in names}
        header = ["setting", "type", "allowed", "meaning", *names]
        rows = []
        for setting_name, setting in SCHEMA[section].items():
            values = [preset_value(presets[name][section][setting_name])
                      if setting_name in presets[name].get(section, {}) else "(missing)"
                      for name in names]
            rows.append([f"``{section}.{setting_name}``", setting.kind, setting.allowed(),
                         setting.meaning, *values])
        return self.render(list_table(header, rows))


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
