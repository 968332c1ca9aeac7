"""``nsfw-desktop quarantine``: move, list and put back from the command line."""

import os
from pathlib import Path

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.config import settings
from nsfw_desktop.quarantine.journal import Journal
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store


def _scanned(db, files):
    """Store a result for each (path, score, review)."""
    with Store(db) as store:
        store.put_many([Result(path=str(p), label="nsfw", nsfw_score=score, model="m", width=4, height=3,
                               file_size=5, mtime_ns=1, scanned_at=0.0) for p, score, _ in files])
        for path, _, review in files:
            if review:
                store.set_review([str(path)], review)


@pytest.fixture
def library(tmp_path):
    """Four files in photos/ with stored results: (path, score, review)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    files = [(folder / "high.jpg", 0.9, None), (folder / "low.jpg", 0.1, None),
             (folder / "high-but-safe.jpg", 0.95, "safe"), (folder / "low-but-nsfw.jpg", 0.05, "nsfw")]
    for path, _, _ in files:
        path.write_bytes(path.name.encode())
    _scanned(tmp_path / "r.db", files)
    return files


def _visible(folder):
    return sorted(p for p in os.listdir(folder) if not p.startswith("."))


def test_quarantine_list_and_restore(tmp_path, library, capsys):
    db, q = str(tmp_path / "r.db"), tmp_path / "q"
    chosen = [str(library[0][0]), str(library[1][0])]
    assert main(["quarantine", *chosen, "--to", str(q), "--db", db]) == 0
    assert _visible(q) == ["high.jpg", "low.jpg"] and not os.path.exists(chosen[0])
    assert f"moved\t{chosen[0]}\t{q / 'high.jpg'}" in capsys.readouterr().out
    assert main(["quarantine", "--list", str(q), "--db", db]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{q / 'high.jpg'}\t{chosen[0]}",
                                                    f"{q / 'low.jpg'}\t{chosen[1]}"]
    with Store(db) as store:
        assert store.get(str(q / "high.jpg")).nsfw_score == 0.9
    assert main(["quarantine", "--restore", str(q), str(q / "low.jpg"), "--db", db]) == 0
    assert _visible(q) == ["high.jpg"] and Path(chosen[1]).read_bytes() == b"low.jpg"
    assert main(["quarantine", "--restore", str(q), "--db", db]) == 0
    assert _visible(q) == [] and Path(chosen[0]).read_bytes() == b"high.jpg"
    with Store(db) as store:
        assert store.get(chosen[0]).nsfw_score == 0.9 and store.count() == 4


def test_flagged_as_the_app_decides_review_then_score(tmp_path, library, capsys):
    db, q = str(tmp_path / "r.db"), tmp_path / "q"
    assert main(["quarantine", "--flagged", str(tmp_path / "photos"), "--threshold", "0.5", "--to", str(q),
                 "--db", db]) == 0
    assert _visible(q) == ["high.jpg", "low-but-nsfw.jpg"]


def test_flagged_uses_the_apps_threshold_and_quarantine_folder(tmp_path, library, isolated_home):
    settings.save(settings.Settings(threshold=0.95))
    assert main(["quarantine", "--flagged", str(tmp_path / "photos"), "--db", str(tmp_path / "r.db")]) == 0
    assert _visible(settings.Settings().quarantine_path()) == ["low-but-nsfw.jpg"]


def test_list_without_a_folder_lists_the_apps(tmp_path, library, capsys):
    assert main(["quarantine", "--flagged", str(tmp_path / "photos"), "--threshold", "0.95",
                 "--db", str(tmp_path / "r.db")]) == 0
    capsys.readouterr()
    assert main(["quarantine", "--list"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(str(settings.Settings().quarantine_path() / "low-but-nsfw.jpg"))


def test_dry_run_moves_nothing(tmp_path, library, capsys):
    db, q = str(tmp_path / "r.db"), tmp_path / "q"
    (q).mkdir()
    (q / "high.jpg").write_bytes(b"already")
    assert main(["quarantine", str(library[0][0]), "--to", str(q), "--db", db, "--dry-run"]) == 0
    assert capsys.readouterr().out == f"would move\t{library[0][0]}\t{q / 'high (1).jpg'}\n"
    assert library[0][0].exists() and _visible(q) == ["high.jpg"]
    assert main(["quarantine", "--flagged", str(tmp_path / "photos"), "--threshold", "0.5", "--to", str(q),
                 "--db", db, "--dry-run"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 and _visible(q) == ["high.jpg"]


def test_restore_gives_a_taken_name_a_new_one(tmp_path, library, capsys):
    db, q, photo = str(tmp_path / "r.db"), tmp_path / "q", library[0][0]
    assert main(["quarantine", str(photo), "--to", str(q), "--db", db]) == 0
    photo.write_bytes(b"newcomer")
    assert main(["quarantine", "--restore", str(q), "--db", db]) == 0
    assert photo.read_bytes() == b"newcomer"
    assert (photo.parent / "high (1).jpg").read_bytes() == b"high.jpg"
    assert "(its old name was taken)" in capsys.readouterr().out


def test_a_folder_outside_the_apps_folders_is_created_only_when_confirmed(tmp_path, library, capsys):
    db, q = str(tmp_path / "r.db"), tmp_path / "q"
    gone = tmp_path / "elsewhere" / "deep" / "a.jpg"
    gone.parent.mkdir(parents=True)
    gone.write_bytes(b"a")
    assert main(["quarantine", str(gone), "--to", str(q), "--db", db]) == 0
    os.rmdir(gone.parent)
    capsys.readouterr()
    assert main(["quarantine", "--restore", str(q), "--db", db]) == 0
    assert "run again with --yes" in capsys.readouterr().err
    assert not gone.parent.exists() and _visible(q) == ["a.jpg"]
    settings.save(settings.Settings(folders=[str(tmp_path / "elsewhere")]))
    assert main(["quarantine", "--restore", str(q), "--db", db]) == 0
    assert gone.read_bytes() == b"a"


def test_a_busy_database_says_what_to_do_and_the_next_run_catches_up(tmp_path, library, monkeypatch, capsys):
    from nsfw_desktop.store.results import StoreError

    db, q, photo = str(tmp_path / "r.db"), tmp_path / "q", library[0][0]

    def busy(*args):
        raise StoreError("The results database is busy.")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "move", busy)
        assert main(["quarantine", str(photo), "--to", str(q), "--db", db]) == 1
    assert "the next 'nsfw-desktop quarantine'" in capsys.readouterr().err
    assert main(["quarantine", "--list", str(q), "--db", db]) == 0
    assert "1 move(s) completed" in capsys.readouterr().err
    with Store(db) as store:
        assert store.get(str(q / "high.jpg")).nsfw_score == 0.9 and store.get(str(photo)) is None
    assert [i.state for i in Journal(q).read()] == ["done"]


def test_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["quarantine", "--db", str(tmp_path / "r.db")]) == 1
    assert main(["quarantine", "a.jpg", "--threshold", "0.5"]) == 1
    assert "--threshold goes with --flagged" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["--restore", "--list"])
def test_a_quarantine_folder_that_does_not_exist_is_an_error_not_zero_files(tmp_path, library, capsys, mode):
    missing = tmp_path / "quarantine-typo"
    assert main(["quarantine", mode, str(missing), "--yes", "--db", str(tmp_path / "r.db")]) == 1
    err = capsys.readouterr().err
    assert f"there is no folder {missing}" in err and "Put back 0" not in err
    assert not missing.exists()
