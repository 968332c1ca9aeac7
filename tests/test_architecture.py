"""The layout the import contracts rely on: every module lives in a package a contract names."""

from __future__ import annotations

from pathlib import Path

import tomllib

import nsfw_desktop

PACKAGE = Path(nsfw_desktop.__file__).parent
FRONT_ENDS = {"cli", "gui", "server"}


def _contracts() -> list[dict]:
    pyproject = PACKAGE.parent / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]


def _packages() -> set[str]:
    return {entry.name for entry in PACKAGE.iterdir()
            if entry.is_dir() and (entry / "__init__.py").is_file()}


def test_no_module_sits_outside_a_package():
    # A module at the top of nsfw_desktop would fall under no contract: the contracts name packages.
    loose = sorted(entry.name for entry in PACKAGE.glob("*.py")
                   if entry.name not in {"__init__.py", "__main__.py"})
    assert loose == []


def test_every_core_package_is_in_the_layers_and_kept_from_the_front_ends():
    contracts = _contracts()
    layered = {name.strip().removeprefix("nsfw_desktop.")
               for contract in contracts if contract["type"] == "layers" and "containers" not in contract
               for layer in contract["layers"] for name in layer.split("|")}
    core = _packages() - FRONT_ENDS
    assert core - layered == set()
    guarded = next(contract for contract in contracts
                   if contract["type"] == "forbidden" and "nsfw_desktop.gui" in contract["forbidden_modules"]
                   and "nsfw_desktop.cli" in contract["forbidden_modules"]
                   and "nsfw_desktop.server" in contract["forbidden_modules"])
    assert {name.removeprefix("nsfw_desktop.") for name in guarded["source_modules"]} == core

