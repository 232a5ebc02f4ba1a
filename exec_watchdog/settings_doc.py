"""The README's configuration table, generated from the settings model (`python -m exec_watchdog.settings_doc`)."""

from __future__ import annotations

import json

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from exec_watchdog.settings import ENV_PREFIX, Settings

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "(none)"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return f"`{json.dumps(value)}`"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"`{value}`" if isinstance(value, str) else str(value)


def settings_table() -> str:
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(name)} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    return f"{BEGIN}\n{settings_table()}{END}"


if __name__ == "__main__":
    print(readme_block())
