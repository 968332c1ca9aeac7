"""Scan speed per model and precision: measured by scans on this computer, shown in the catalogue."""

from __future__ import annotations

import itertools
import time

import pytest

from nsfw_desktop.classify import make_classifier, speeds
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, OPEN_NSFW
from nsfw_desktop.cli import main
from nsfw_desktop.scan.engine import scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.store.results import Store
from tests.conftest import write_photos


def test_the_meter_leaves_out_the_first_batch_and_short_or_paused_scans():
    ticks = iter([10.0, 12.0, 14.0, 16.0])
    meter = speeds.Meter(clock=lambda: next(ticks))
    meter.batch_done(8)  # loading the model and warming up: not counted
    meter.batch_done(8)
    assert meter.speed() is None  # 8 files say more about the moment than the model
    meter.batch_done(8)
    meter.batch_done(8)
    assert meter.speed().images_per_second == pytest.approx(24 / 6) and meter.speed().files == 24
    paused = speeds.Meter(clock=itertools.count().__next__)
    for _ in range(5):
        paused.batch_done(8, paused=True)
    assert paused.speed() is None


def test_a_scan_records_its_speed_for_its_model_and_precision(tiny_model, tmp_path):
    write_photos(tmp_path / "photos", 30)
    classifier = make_classifier(str(tiny_model), device="cpu", precision="balanced")
    before = time.time()
    with Store(tmp_path / "r.db") as store:
        events = list(scan([str(tmp_path / "photos")], classifier, store,
                           options=DecodeOptions(batch_size=4)))
    speed = speeds.measured()[classifier.model_id]
    assert classifier.model_id.endswith("+balanced")
    assert speed.files == 30 - 4 and speed.measured_at >= before
    # No faster than the whole scan's own rate allows, and no slower than its time in all.
    summary = events[-1].summary
    assert speed.images_per_second >= speed.files / summary.seconds


def test_a_scan_too_short_to_tell_records_nothing(tiny_model, tmp_path):
    write_photos(tmp_path / "photos", 5)
    with Store(tmp_path / "r.db") as store:
        list(scan([str(tmp_path / "photos")], make_classifier(str(tiny_model), device="cpu"), store))
    assert speeds.measured() == {}


def test_the_catalogue_shows_measured_speeds_or_says_there_are_none(capsys):
    assert main(["models", "list", "--available"]) == 0
    out = capsys.readouterr().out
    assert out.count("speed:        not measured yet") == 2  # Falconsai and open-nsfw
    speeds.record(f"{DEFAULT_MODEL}@96cb0d0342c7+int8", speeds.Speed(12.34, 40, time.time()))
    speeds.record(f"{DEFAULT_MODEL}@96cb0d0342c7", speeds.Speed(3.21, 40, time.time()))
    speeds.record(f"{OPEN_NSFW}@0123456789ab", speeds.Speed(20.5, 64, time.time()))
    assert main(["models", "list", "--available"]) == 0
    out = capsys.readouterr().out
    assert "speed:        exact 3.2 images/s on this computer (40 files" in out
    assert "; fast 12.3 images/s on this computer" in out
    assert "speed:        20.5 images/s on this computer (64 files" in out
    assert "not measured yet" not in out


def test_an_unreadable_speeds_file_is_measured_again(tmp_path):
    from nsfw_desktop.files import paths

    target = paths.cache_dir() / speeds.SPEEDS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("[1, 2")
    assert speeds.measured() == {}
    speeds.record("m@1", speeds.Speed(1.0, 20, 0.0))
    assert speeds.measured() == {"m@1": speeds.Speed(1.0, 20, 0.0)}
