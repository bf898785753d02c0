"""Every setting the code reads is documented where an operator looks: the README's table and .env.example."""

from __future__ import annotations

from bot.settings import Settings
from tests.conftest import ROOT


def environment_names() -> list[str]:
    names = []
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.append(alias.choices[0] if alias is not None else f"PRAKTIKBOT_{field_name.upper()}")
    return names


def test_every_setting_is_in_the_readme_and_the_env_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert not [n for n in environment_names() if f"`{n}`" not in readme], "missing from the README's table"
    assert not [n for n in environment_names() if f"{n}=" not in example], "missing from .env.example"
