"""The app's folders: where they are and that only their owner can read them."""

from __future__ import annotations

import os
import stat

import pytest

from nsfw_desktop.files import paths


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)  # what most systems give: new folders 0755, new files 0644
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_app_folders_are_created_readable_by_the_owner_only(isolated_home):
    folders = [paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()]
    assert [f.parent for f in folders] == [isolated_home] * 4
    assert [mode(f) for f in folders] == [0o700] * 4


def test_app_folders_made_by_an_older_version_are_closed(isolated_home):
    (isolated_home / "data").mkdir(parents=True, mode=0o755)
    (isolated_home / "data" / "results.sqlite3").write_bytes(b"")
    assert mode(paths.data_dir()) == 0o700
    assert mode(isolated_home) == 0o755  # the user's own folder (portable mode) is left alone
