"""The documentation against the code: one page per command naming exactly the parser's options, and
no path of one particular machine in the README or the docs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from nsfw_desktop.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
CLI_PAGES = ROOT / "docs" / "cli"
# A long option as a page writes it: `--name`, `--name VALUE`, `--name=VALUE`.
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# A file pymdownx.snippets includes: --8<-- "ARCHITECTURE.md".
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.M)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option but --help, of the parser and its own sub-commands (`models pull`, `policy fit`)."""
    found = {option for action in parser._actions if not isinstance(action, argparse._HelpAction)
             for option in action.option_strings if option.startswith("--")}
    for sub in _subparsers(parser).values():
        found |= _options(sub)
    return found


def _page(command: str) -> str:
    return (CLI_PAGES / f"{command}.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def commands() -> dict[str, argparse.ArgumentParser]:
    """The real parser's sub-commands, by name."""
    return _subparsers(build_parser())


def test_every_command_has_a_page_and_every_page_a_command(commands):
    assert set(commands) == set(COMMANDS)
    pages = {page.stem for page in CLI_PAGES.glob("*.md")} - {"index"}
    assert pages == set(commands), "docs/cli/ should hold exactly one page per nsfw-desktop command"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_page_names_exactly_the_parser_options(commands, command):
    parser = commands[command]
    named = set(OPTION.findall(_page(command)))
    page = f"docs/cli/{command}.md"
    assert sorted(named - _options(parser)) == [], f"{page} names options {command} does not have"
    assert sorted(_options(parser) - named) == [], f"{page} does not mention these options"


@pytest.mark.parametrize("command", [name for name in COMMANDS if name in ("models", "policy")])
def test_a_command_page_names_its_own_sub_commands(commands, command):
    page = _page(command)
    for sub in _subparsers(commands[command]):
        assert f"`{sub}" in page, f"docs/cli/{command}.md does not describe `{command} {sub}`"


def test_the_docs_name_no_path_of_one_machine():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    # Files the site includes whole (ARCHITECTURE.md, packaging/README.md) are part of it too.
    pages += [ROOT / name for page in pages for name in INCLUDE.findall(page.read_text(encoding="utf-8"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for pattern in (r"(?<![\w.~])/tmp/", r"(?<![\w.~])/work/", r"(?<![\w.~])/home/", r"\bflock\b"):
            found = re.search(pattern, text)
            where = page.relative_to(ROOT)
            assert found is None, f"{where} names {found.group()!r}: write a path any reader has"


def test_the_readme_links_to_files_that_exist():
    # mkdocs --strict checks the links inside docs/; the README's relative links are checked here.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)
    assert targets, "the README should point to the docs pages"
    assert [target for target in targets if not (ROOT / target).exists()] == []


def test_the_commands_the_docs_give_name_modules_that_exist():
    # Developer benchmarks live in benchmarks/ beside the package, run as `python -m benchmarks.X`.
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    modules = set(re.findall(r"python -m ((?:benchmarks|nsfw_desktop)(?:\.[a-z_]+)+)\b", text))  # not NAME
    assert modules, "the performance page gives its benchmarks' commands"
    missing = [name for name in sorted(modules) if not (ROOT / (name.replace(".", "/") + ".py")).is_file()]
    assert missing == []
