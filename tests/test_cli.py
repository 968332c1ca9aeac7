import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.store.export import COLUMNS
from nsfw_desktop.store.results import SCHEMA_VERSION, Store
from tests.conftest import build_tiny_vit, write_photos


def scan_args(tiny_model, db, *paths, extra=()):
    return ["scan", *map(str, paths), "--model", str(tiny_model), "--db", str(db), *extra]


def test_scan_prints_summary_and_rescan_is_incremental(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    (photos / "broken.jpg").write_text("nope")
    assert main(scan_args(tiny_model, db, photos)) == 0
    out, err = capsys.readouterr()
    assert "scanned:   6" in out and "errors:    1" in out and "files/s:" in out
    assert "broken.jpg: not an image" in err
    flagged_line = next(line for line in out.splitlines() if line.startswith("flagged:"))
    assert main(scan_args(tiny_model, db, photos)) == 0
    out, _ = capsys.readouterr()
    assert "scanned:   0" in out and "unchanged: 6" in out
    # The summary counts every file under the folders, not only those classified this time.
    assert flagged_line in out and "errors:    1" in out


def test_scan_json_lines_and_summary(photos, tiny_model, tmp_path, capsys):
    assert main(scan_args(tiny_model, tmp_path / "r.db", photos, extra=["--json"])) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and lines[-1]["summary"]["scanned"] == 5
    assert set(lines[0]) == {"path", "label", "nsfw_score", "policy_score", "error", "kind", "duration",
                             "worst_frame_time"}
    assert (lines[0]["kind"], lines[0]["duration"], lines[0]["worst_frame_time"]) == ("image", None, None)


def test_csv_round_trip(photos, tiny_model, tmp_path):
    db = tmp_path / "r.db"
    target = tmp_path / "all.csv"
    os.rename(photos / "photo_0003.png", photos / "Strand, \"Sommer\" ☀.png")
    assert main(scan_args(tiny_model, db, photos, extra=["--csv", str(target), "--all"])) == 0
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    stored = {r.path: r for r in Store(db).results()}
    assert {row["path"] for row in rows} == set(stored)
    for row in rows:
        result = stored[row["path"]]
        assert float(row["nsfw_score"]) == pytest.approx(result.nsfw_score, abs=1e-6)
        assert (int(row["width"]), int(row["height"]), int(row["file_size"])) == (
            result.width, result.height, result.file_size)
        assert row["label"] == result.label and row["model"] == result.model


def test_export_flagged_uses_the_threshold(photos, tiny_model, tmp_path):
    db = tmp_path / "r.db"
    main(scan_args(tiny_model, db, photos))
    scores = sorted(r.nsfw_score for r in Store(db).results())
    threshold = (scores[1] + scores[2]) / 2  # exactly three files score above this
    out = tmp_path / "flagged.csv"
    assert main(["export", "--csv", str(out), "--threshold", str(threshold), "--db", str(db)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(float(r["nsfw_score"]) >= threshold for r in rows)


def test_classify_json_needs_no_database(photos, tiny_model, tmp_path, capsys, isolated_home):
    missing = tmp_path / "missing.jpg"
    # Like cat: the files that could be read are answered, and the status says one could not.
    assert main(["classify", str(photos / "photo_0000.png"), str(missing), "--model",
                 str(tiny_model), "--json"]) == 1
    lines = {d["path"]: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines[str(missing)]["error"] == "no such file"
    assert lines[str(photos / "photo_0000.png")]["label"] in ("normal", "nsfw")
    assert not (isolated_home / "data" / "results.sqlite3").exists()


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["scan"])
    assert caught.value.code == 2


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "nsfw_desktop", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_unusable_models_fail_with_one_clear_line(tmp_path, photos):
    pickled = build_tiny_vit(tmp_path / "pickled", safetensors=False)
    for model, expected in [(str(pickled), "only pickle weights"),
                            (str(tmp_path / "nowhere"), "Model folder not found"),
                            ("Falconsai/nsfw_image_detection", "nsfw-desktop models pull")]:
        done = run_cli("scan", str(photos), "--db", str(tmp_path / "r.db"), "--model", model)
        assert done.returncode == 1, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr


def test_scan_resumes_after_sigkill(tmp_path, tiny_model):
    """Kill -9 a scan mid-way: every committed result survives and the rerun does the rest."""
    import shutil

    root = tmp_path / "many"
    # PNGs cannot be decoded at reduced size, so each one keeps the scan busy a little.
    first = write_photos(root, 1, size=(900, 700))[0]
    for i in range(1, 60):
        shutil.copyfile(first, root / f"copy_{i:03d}.png")
    db = tmp_path / "r.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "nsfw_desktop", *scan_args(tiny_model, db, root,
                                                           extra=["--batch-size", "1"])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done_before = 0
        deadline = time.monotonic() + 90
        while done_before < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        done_before = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                    except sqlite3.OperationalError:
                        continue
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert 10 <= done_before < 60, "the scan must be killed part-way"
    survived = Store(db).count()
    assert survived >= done_before
    done = run_cli(*scan_args(tiny_model, db, root, extra=["--json"]))
    summary = json.loads(done.stdout.splitlines()[-1])["summary"]
    assert summary["unchanged"] == survived and summary["scanned"] == 60 - survived
    assert Store(db).count() == 60


def test_database_problems_are_one_line_errors_and_delete_nothing(photos, tiny_model, tmp_path,
                                                                  capsys, monkeypatch):
    from nsfw_desktop.store import database

    newer, newer_version = tmp_path / "newer.db", SCHEMA_VERSION + 1
    too_new = f"written by a newer nsfw-desktop (schema {newer_version};"
    Store(newer).close()
    with sqlite3.connect(newer) as raw:
        raw.execute(f"PRAGMA user_version={newer_version}")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    busy = tmp_path / "busy.db"
    Store(busy).close()
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)
    writer = sqlite3.connect(busy, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # another nsfw-desktop, mid-way through a batch
    try:
        for argv, expected in [
            (scan_args(tiny_model, newer, photos), too_new),
            (["export", "--csv", str(tmp_path / "a.csv"), "--db", str(newer)], too_new),
            (["export", "--csv", str(tmp_path / "b.csv"), "--db", str(text)],
             f"{text} is not an nsfw-desktop results database (file is not a database)"),
            (scan_args(tiny_model, text, photos),
             f"{text} is not an nsfw-desktop results database (file is not a database)"),
            (scan_args(tiny_model, busy, photos),
             f"The results database {busy} is busy: another nsfw-desktop is writing to it."),
        ]:
            assert main(argv) == 1
            err = capsys.readouterr().err
            lines = [line for line in err.splitlines() if line.startswith("nsfw-desktop: error:")]
            assert len(lines) == 1 and expected in lines[0], err
            assert "Traceback" not in err
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert text.read_text() == "not a database\n" * 100
    with sqlite3.connect(newer) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == newer_version
    assert Store(busy).count() == 0
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


def test_export_reads_while_a_scan_holds_the_write_lock(photos, tiny_model, tmp_path, monkeypatch):
    from nsfw_desktop.store import database

    db = tmp_path / "r.db"
    assert main(scan_args(tiny_model, db, photos)) == 0
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)
    scan = sqlite3.connect(db, isolation_level=None)
    scan.execute("BEGIN IMMEDIATE")
    scan.execute("DELETE FROM results")  # uncommitted: the export sees the five stored rows
    try:
        out = tmp_path / "all.csv"
        assert main(["export", "--csv", str(out), "--all", "--db", str(db)]) == 0
    finally:
        scan.execute("ROLLBACK")
        scan.close()
    with open(out, newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 5


def test_export_works_on_read_only_media(photos, tiny_model, tmp_path):
    from tests.test_store import run_on_read_only_media

    media = tmp_path / "media"
    assert main(scan_args(tiny_model, media / "r.db", photos)) == 0
    out = tmp_path / "all.csv"
    code = (f"import sys; from nsfw_desktop.cli import main; sys.exit(main(['export', '--csv', "
            f"{str(out)!r}, '--all', '--db', {str(media / 'r.db')!r}]))")
    done = run_on_read_only_media(media, code)
    assert done.returncode == 0, done.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    assert sorted(p.name for p in media.iterdir()) == ["r.db"]


def test_names_that_are_not_utf8_come_out_as_valid_utf8_that_leads_back_to_the_file(
        photos, tiny_model, tmp_path, capsys):
    import io
    from urllib.parse import unquote_to_bytes

    odd = os.fsdecode(os.path.join(os.fsencode(photos), b"caf\xe9.png"))  # Latin-1 "café"
    os.rename(photos / "photo_0001.png", odd)
    shown = str(photos / "caf\ufffd.png")
    db, target = tmp_path / "r.db", tmp_path / "all.csv"

    def back_to_file(path_bytes: str) -> str:
        return os.fsdecode(unquote_to_bytes(path_bytes))

    assert main(scan_args(tiny_model, db, photos, extra=["--json", "--csv", str(target), "--all"])) == 0
    lines = capsys.readouterr().out.splitlines()[:-1]
    records = {}
    for line in lines:
        record = json.loads(line)
        # What a strict parser demands: no lone surrogates (\udce9) in any string.
        json.dumps(record, ensure_ascii=False).encode("utf-8")
        records[record["path"]] = record
    assert back_to_file(records.pop(shown)["path_bytes"]) == odd
    assert len(records) == 4 and not any("path_bytes" in r for r in records.values())

    exported = tmp_path / "exported.csv"
    assert main(["export", "--csv", str(exported), "--all", "--db", str(db)]) == 0
    for csv_file in (target, exported):
        text = csv_file.read_bytes().decode("utf-8")  # strict: pandas and spreadsheets read it
        rows = {row["path"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
        assert back_to_file(rows.pop(shown)["path_bytes"]) == odd
        assert len(rows) == 4 and all(row["path_bytes"] == "" for row in rows.values())

    assert main(["classify", odd, "--model", str(tiny_model)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{shown}\t") and printed.count("\n") == 1
    printed.encode("utf-8")


def test_similar_and_explain_show_names_that_are_not_utf8_as_valid_utf8(photos, tiny_model,
                                                                          tmp_path, capsys):
    from urllib.parse import unquote_to_bytes

    odd = os.fsdecode(os.path.join(os.fsencode(photos), b"caf\xe9.png"))
    os.rename(photos / "photo_0001.png", odd)
    shown = str(photos / "caf\ufffd.png")
    db = tmp_path / "r.db"
    assert main(scan_args(tiny_model, db, photos, extra=["--embeddings"])) == 0
    capsys.readouterr()
    assert main(["similar", str(photos / "photo_0000.png"), "--db", str(db), "--model",
                 str(tiny_model), "--json"]) == 0
    records = {r["path"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert os.fsdecode(unquote_to_bytes(records[shown]["path_bytes"])) == odd
    assert main(["explain", odd, "--out", str(tmp_path / "o"), "--model", str(tiny_model)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{shown}\t") and printed.rstrip().endswith("caf\ufffd.heatmap.png")


def test_a_csv_that_cannot_be_written_is_one_line(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    target = tmp_path / "missing" / "flagged.csv"
    assert main(scan_args(tiny_model, db, photos, extra=["--csv", str(target)])) == 1
    assert Store(db).count() == 5  # the scan itself is kept
    assert main(["export", "--csv", str(target), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    expected = f"nsfw-desktop: error: cannot write {target}: No such file or directory."
    assert err.count(expected) == 2 and "Traceback" not in err


def test_a_reviewed_file_found_gone_is_reported_missing(tiny_model, tmp_path, capsys):
    root = tmp_path / "photos"
    photos = write_photos(root, 3)
    db = tmp_path / "db.sqlite3"
    assert main(scan_args(tiny_model, db, root)) == 0
    with Store(db) as store:
        store.set_review([str(photos[0])], "safe")
    os.remove(photos[0])
    capsys.readouterr()
    assert main(scan_args(tiny_model, db, root)) == 0
    assert "missing:   1 (reviewed files not found; kept with their review marks)" in capsys.readouterr().out


def test_bench_alternates_rounds_and_prints_the_ratio(photos, tiny_model, capsys):
    assert main(["bench", str(photos), "--model", str(tiny_model), "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "files:                 5" in out
    assert "ratio:" in out and "peak memory (ours):" in out


def test_gui_refuses_a_file_or_a_missing_folder_before_opening(photos, tmp_path, capsys):
    assert main(["gui", str(photos / "photo_0000.png")]) == 1
    assert f"photo_0000.png is a file, not a folder: give the folder that holds it ({photos})" in (
        capsys.readouterr().err)
    assert main(["gui", str(tmp_path / "missing")]) == 1
    assert f"{tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    from nsfw_desktop.config import settings as settings_file

    assert settings_file.load_or_defaults()[0].folders == []
