"""Videos: found by content, sampled by seeking, scored on their highest frame, bad ones
become error rows. The videos are encoded here with PyAV from still pictures."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.video import load_video, looks_like_video, sample_times
from nsfw_desktop.scan import refine
from nsfw_desktop.scan.prepare import decode_and_prepare
from nsfw_desktop.scan.refine import refine_times
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.scan.walker import WalkReport, walk
from nsfw_desktop.store.results import Store
from tests.conftest import random_image, run_scan, write_photos
from tests.videos import (
    claiming_samples,
    compressed_movie,
    patched,
    write_audio,
    write_old_quicktime,
    write_video,
)

SIZE = (128, 96)


@pytest.fixture(scope="module")
def low_and_high(local):
    """The pictures among a few the tiny model scores lowest and highest, with their scores."""
    pictures = [random_image(seed, SIZE) for seed in range(30)]
    scores = [p.nsfw_score for p in local.predict([local.prepare(p) for p in pictures])]
    low = min(range(30), key=scores.__getitem__)
    high = max(range(30), key=scores.__getitem__)
    assert scores[high] - scores[low] > 0.1, "the tiny model no longer tells these pictures apart"
    return (pictures[low], scores[low]), (pictures[high], scores[high])


@pytest.fixture
def film(tmp_path, low_and_high) -> Path:
    """24 s: the low picture for 8 s, the high one for 8 s, the low one again."""
    (low, _), (high, _) = low_and_high
    return write_video(tmp_path / "film.mp4", [(low, 8), (high, 8), (low, 8)])


@pytest.mark.parametrize("codec, container, name", [
    ("libx264", "mp4", "clip.mp4"), ("libx264", "matroska", "clip.mkv"),
    ("libvpx", "webm", "clip.webm"), ("mpeg4", "avi", "clip.avi"), ("mpeg4", "mov", "clip.mov"),
])
def test_containers_are_recognised_by_content_and_sampled_over_the_whole_film(tmp_path, codec,
                                                                             container, name):
    path = write_video(tmp_path / name, [(random_image(1, SIZE), 10), (random_image(2, SIZE), 10)],
                       codec=codec, container=container)
    assert looks_like_video(path.read_bytes()[:16])
    video = load_video(path, min_side=48)
    assert video.duration == pytest.approx(20, abs=0.2)
    assert (video.width, video.height) == SIZE
    assert len(video.frames) == 8  # 20 s at one every 5 s is 4: at least 8
    assert video.times == sorted(set(video.times))  # distinct frames, in order
    assert video.times[0] < 2.5 and video.times[-1] > 16  # the whole film, not its start
    assert all(min(frame.size) == 48 for frame in video.frames)  # reduced at once


def test_samples_follow_the_interval_between_the_frame_limits():
    assert len(sample_times(10)) == 8
    assert len(sample_times(600)) == 32
    assert len(sample_times(120)) == 24
    assert len(sample_times(600, max_frames=64)) == 64
    assert sample_times(80, interval=10) == [5 + 10 * i for i in range(8)]
    with pytest.raises(ValueError, match="1 <= min <= max"):
        DecodeOptions(video_min_frames=10, video_max_frames=4)


def test_sparse_keyframes_still_give_distinct_frames(tmp_path):
    path = write_video(tmp_path / "one-key.mp4", [(random_image(3, SIZE), 8)], keyframe_every=100)
    video = load_video(path, min_side=48)
    assert len(video.frames) == 8
    assert video.times == sorted(set(video.times))
    assert video.times[-1] > 7


def test_the_walker_finds_videos_by_extension_or_content(tmp_path):
    folder = tmp_path / "camera"
    clip = write_video(tmp_path / "clip.mp4", [(random_image(1, SIZE), 2)])
    folder.mkdir()
    shutil.copy(clip, folder / "VID_0001.mp4")
    shutil.copy(clip, folder / "no-extension")
    shutil.copy(clip, folder / "looks-like-a.jpg")
    (folder / "notes.txt").write_text("not a video")
    found = sorted(Path(e.path).name for e in walk([str(folder)], WalkReport()))
    assert found == ["VID_0001.mp4", "looks-like-a.jpg", "no-extension"]
    # With videos off, a video is passed over by extension and by content; a .jpg is still
    # a picture by its name (it then gets a picture's reason).
    without = sorted(Path(e.path).name for e in walk([str(folder)], WalkReport(), videos=False))
    assert without == ["looks-like-a.jpg"]


def test_a_video_scores_its_highest_sampled_frame_as_an_image_would(film, local, store):
    prepared = decode_and_prepare(film, local)
    assert prepared.kind == "video" and len(prepared.times) == len(prepared.frames) == 8
    as_images = [p.nsfw_score for p in local.predict([local.prepare(f) for f in prepared.frames])]
    _, _, [result] = run_scan([film], local, store)
    assert result.nsfw_score == pytest.approx(max(as_images), abs=1e-5)
    best = max(range(len(as_images)), key=as_images.__getitem__)
    assert result.worst_frame_time == pytest.approx(prepared.times[best])
    assert (result.kind, result.frames) == ("video", 8)


def test_a_video_is_flagged_at_the_time_of_its_high_scoring_middle(film, local, store, low_and_high):
    (_, low), (_, high) = low_and_high
    threshold = (low + high) / 2
    _, _, [result] = run_scan([film], local, store)
    assert result.flagged(threshold)
    assert result.nsfw_score == pytest.approx(high, abs=0.05)
    assert 8 <= result.worst_frame_time < 16
    stored = store.get(str(film))
    assert (stored.kind, stored.duration, stored.frames) == ("video", pytest.approx(24, abs=0.2), 8)
    assert stored.worst_frame_time == result.worst_frame_time
    assert (stored.width, stored.height) == SIZE


def test_each_bad_video_is_an_error_row_and_the_scan_goes_on(tmp_path, local, store):
    folder = tmp_path / "downloads"
    write_photos(folder, 1)
    clip = write_video(tmp_path / "clip.mp4", [(random_image(1, SIZE), 8)])
    data = clip.read_bytes()
    (folder / "cut.mp4").write_bytes(data[:len(data) // 2])
    mkv = write_video(tmp_path / "clip.mkv", [(random_image(1, SIZE), 8)], container="matroska")
    (folder / "cut.mkv").write_bytes(mkv.read_bytes()[:len(mkv.read_bytes()) // 2])
    (folder / "empty.mp4").write_bytes(b"")
    write_audio(folder / "song.mp4")
    # Matroska names its codec in plain text: one FFmpeg has never heard of.
    (folder / "strange.mkv").write_bytes(mkv.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/QQQ/QQQ"))
    _, summary, results = run_scan([folder], local, store)
    errors = {Path(r.path).name: r.error for r in results if r.error}
    assert errors.keys() == {"cut.mp4", "cut.mkv", "empty.mp4", "song.mp4", "strange.mkv"}
    assert "truncated" in errors["cut.mp4"] and "truncated" in errors["cut.mkv"]
    assert errors["empty.mp4"] == "the file is empty (0 bytes)"
    assert "no video track (audio only?)" in errors["song.mp4"]
    assert "cannot decode" in errors["strange.mkv"]
    assert [Path(r.path).name for r in results if not r.error] == ["photo_0000.png"]
    # A broken video is still a video in the results, so it shows and exports as one.
    kinds = {Path(r.path).name: r.kind for r in store.results()}
    assert {kinds[name] for name in ("cut.mp4", "cut.mkv", "song.mp4", "strange.mkv")} == {"video"}


def test_containers_claiming_absurd_frame_counts_or_durations_are_error_rows(tmp_path, local, store):
    folder = tmp_path / "downloads"
    write_photos(folder, 1)
    scenes = [(random_image(1, SIZE), 8)]
    mp4 = write_video(tmp_path / "clip.mp4", scenes).read_bytes()
    mkv = write_video(tmp_path / "clip.mkv", scenes, container="matroska").read_bytes()
    avi = write_video(tmp_path / "clip.avi", scenes, codec="mpeg4", container="avi").read_bytes()
    # MP4's time-to-sample table: its one entry's sample count (after version, flags, entries).
    (folder / "frames.mp4").write_bytes(patched(mp4, b"stts", 12, ">I", 0x7FFFFFFF))
    # Matroska's segment duration (element 0x4489, an 8-byte float of milliseconds).
    assert mkv[mkv.index(b"\x44\x89") + 2] == 0x88
    (folder / "forever.mkv").write_bytes(patched(mkv, b"\x44\x89", 3, ">d", 1e15))
    # AVI's stream header: its length in frames (after type, handler, flags, priority,
    # language, initial frames, scale, rate and start).
    (folder / "length.avi").write_bytes(patched(avi, b"strh", 40, "<I", 0x7FFFFFFF))
    _, summary, results = run_scan([folder], local, store)
    errors = {Path(r.path).name: r.error for r in results if r.error}
    assert errors == {
        "frames.mp4": "refused: the video claims 2147483647 frames in 8 seconds, which no real video "
                      "has: the file is corrupt or hostile",
        "forever.mkv": "refused: the video claims to last 277777778 hours, more than the 24 hours limit: "
                       "the file is corrupt or hostile",
        "length.avi": "refused: the video claims to last 59652 hours, more than the 24 hours limit: "
                      "the file is corrupt or hostile",
    }
    assert [Path(r.path).name for r in results if not r.error] == ["photo_0000.png"]


def test_mp4_tables_claiming_more_samples_than_the_file_holds_are_refused_before_ffmpeg(
        tmp_path, local, store, monkeypatch):
    # FFmpeg allocates its index from these counts: 2.9 GB and 7 s to open each of these files.
    import av

    folder = tmp_path / "downloads"
    write_photos(folder, 1)
    frame = [(random_image(1, (16, 16)), 0.1)]
    one = write_video(tmp_path / "one.mp4", frame, size=(16, 16)).read_bytes()
    fragmented = write_video(tmp_path / "fragmented.mp4", frame, size=(16, 16),
                             options={"movflags": "frag_keyframe+empty_moov"}).read_bytes()
    (folder / "tables.mp4").write_bytes(claiming_samples(one, 80_000_000))
    (folder / "compressed.mov").write_bytes(compressed_movie(claiming_samples(one, 80_000_000)))
    # A fragment's track run (trun) with no per-sample fields: its count after version and flags.
    (folder / "fragment.mp4").write_bytes(patched(fragmented, b"trun", 8, ">I", 80_000_000))

    def never(*args, **kwargs):
        raise AssertionError("FFmpeg was asked to open a file that claims 80 million samples")

    monkeypatch.setattr(av, "open", never)
    _, _, results = run_scan([folder], local, store)
    errors = {Path(r.path).name: r.error for r in results if r.error}
    assert errors.keys() == {"tables.mp4", "compressed.mov", "fragment.mp4"}
    for error in errors.values():
        assert re.fullmatch(r"refused: the video's tables list 80000000 samples, but the file holds only "
                            r"\d{3} bytes of picture and sound data: the file is truncated, corrupt or "
                            "hostile", error), error
    assert [Path(r.path).name for r in results if not r.error] == ["photo_0000.png"]


def test_real_mp4s_pass_the_sample_count_check(tmp_path):
    scenes = [(random_image(1, SIZE), 4), (random_image(2, SIZE), 4)]
    fragmented = write_video(tmp_path / "fragmented.mp4", scenes,
                             options={"movflags": "frag_keyframe+empty_moov"})
    assert len(load_video(fragmented, min_side=48).frames) == 8
    compressed = tmp_path / "compressed.mov"
    compressed.write_bytes(compressed_movie(write_video(tmp_path / "plain.mp4", scenes).read_bytes()))
    assert len(load_video(compressed, min_side=48).frames) == 8
    # Old QuickTime films count uncompressed sound samples, more than the bytes of IMA4 sound
    # (0.53 byte each): FFmpeg indexes such a track by chunks, so its count is no claim.
    film = write_old_quicktime(tmp_path / "old.mov", scenes)
    assert len(load_video(film, min_side=48).frames) == 8


def test_mp4_headers_too_large_to_check_are_refused(tmp_path, monkeypatch):
    from nsfw_desktop.media import video_tables

    clip = write_video(tmp_path / "clip.mp4", [(random_image(1, SIZE), 2)]).read_bytes()
    monkeypatch.setattr(video_tables, "_MAX_BOXES", 50)
    padded = tmp_path / "padded.mp4"
    at = clip.index(b"moov") - 4
    padded.write_bytes(clip[:at] + b"\0\0\0\x08free" * 60 + clip[at:])
    with pytest.raises(ImageError, match="made of more than 50 boxes, which no real video is"):
        load_video(padded, min_side=48)
    monkeypatch.setattr(video_tables, "_MAX_COMPRESSED_MOVIE", 1 << 10)
    compressed = tmp_path / "compressed.mov"
    compressed.write_bytes(compressed_movie(clip))
    with pytest.raises(ImageError, match=r"compressed header claims \d+ bytes, more than the 0 MB"):
        load_video(compressed, min_side=48)


@pytest.mark.parametrize("limit, reason", [
    ({"video_max_pixels": 100 * 100}, "megapixel limit for videos"),
    ({"video_max_seconds": 5}, "more than the 5 seconds limit"),
    ({"video_timeout": 1e-9}, "took longer than"),
])
def test_videos_over_the_limits_are_refused_with_the_reason(tmp_path, local, limit, reason):
    clip = write_video(tmp_path / "clip.mp4", [(random_image(1, SIZE), 8)])
    with pytest.raises(ImageError, match=reason):
        decode_and_prepare(clip, local, DecodeOptions(**limit))


def test_a_rotated_phone_video_is_seen_upright(tmp_path):
    picture = random_image(1, SIZE)
    picture.paste((255, 0, 0), (0, 0, 32, 24))  # a red corner, to tell the turn
    clip = write_video(tmp_path / "portrait.mp4", [(picture, 2)], rotation=90)
    video = load_video(clip, min_side=48)
    assert (video.width, video.height) == (SIZE[1], SIZE[0])
    frame = video.frames[0]
    assert frame.size == (48, 64)
    red = frame.getpixel((4, 60))  # turned a quarter counter-clockwise: top left goes bottom left
    assert red[0] > 150 and red[1] < 100


def test_explain_draws_the_worst_frame_and_says_when_it_is(film, tiny_model, tmp_path, capsys,
                                                           low_and_high):
    from nsfw_desktop.cli import main

    (_, _), (_, high) = low_and_high
    assert main(["explain", str(film), "--out", str(tmp_path / "o"), "--model", str(tiny_model)]) == 0
    path, label, score, target, at = capsys.readouterr().out.strip().split("\t")
    assert path == str(film) and float(score) == pytest.approx(high, abs=0.05)
    assert at.startswith("at ") and 8 <= float(at.split()[1]) < 16
    assert Path(target).is_file()


def test_find_similar_matches_a_video_by_its_worst_frame(film, local, store, tmp_path):
    from nsfw_desktop.similar.search import find_similar

    run_scan([film, write_photos(tmp_path / "photos", 3)[0].parent], local, store, embeddings=True)
    assert store.embedding(str(film), local.model_id) is not None
    copy = shutil.copy(film, tmp_path / "copy.mp4")  # not in the database: embedded as a query
    [best, *_] = find_similar(store.path, copy, local, top_k=3)
    assert best.path == str(film) and best.similarity > 0.999


def test_classify_json_and_the_csv_carry_kind_duration_and_worst_frame_time(film, tiny_model, tmp_path,
                                                                            capsys):
    import csv
    import json

    from nsfw_desktop.cli import main

    photo = write_photos(tmp_path / "photos", 1)[0]
    assert main(["classify", str(film), str(photo), "--model", str(tiny_model), "--json"]) == 0
    video, picture = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (video["kind"], video["duration"]) == ("video", pytest.approx(24, abs=0.2))
    assert 8 <= video["worst_frame_time"] < 16
    assert (picture["kind"], picture["duration"], picture["worst_frame_time"]) == ("image", None, None)
    assert main(["classify", str(film), "--model", str(tiny_model)]) == 0
    assert " s of 24.0 s" in capsys.readouterr().out
    db, table = tmp_path / "results.db", tmp_path / "all.csv"
    assert main(["scan", str(film), "--model", str(tiny_model), "--db", str(db)]) == 0
    assert main(["export", "--db", str(db), "--csv", str(table), "--all"]) == 0
    with table.open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["kind"] == "video" and float(row["duration"]) == pytest.approx(24, abs=0.2)
    assert float(row["worst_frame_time"]) == pytest.approx(video["worst_frame_time"], abs=1e-3)


def test_a_folder_of_videos_keeps_few_decoded_films_waiting(tmp_path, local, monkeypatch):
    """Each film's inputs take tens of MB: only a few wait for the model, not sixteen."""
    from nsfw_desktop.scan import pipeline
    from nsfw_desktop.scan.types import FileEntry

    clip = write_video(tmp_path / "clip.mp4", [(random_image(1, SIZE), 2)])
    entries = []
    for index in range(12):
        path = shutil.copy(clip, tmp_path / f"VID_{index:02d}.mp4")
        entries.append(FileEntry(str(path), clip.stat().st_size, 0))
    counts = {"decoded": 0, "classified": 0, "most waiting": 0}
    real = pipeline.decode_and_prepare

    def counting(*args, **kwargs):
        counts["decoded"] += 1
        counts["most waiting"] = max(counts["most waiting"], counts["decoded"] - counts["classified"])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decode_and_prepare", counting)
    results = []
    for batch in pipeline.classify_entries(entries, local, DecodeOptions(decode_workers=1)):
        time.sleep(0.05)  # a slow model: the decoder runs ahead as far as it may
        counts["classified"] += len(batch)
        results.extend(batch)
    assert [r.path for r in results] == [e.path for e in entries]
    assert all(r.kind == "video" and r.error is None for r in results)
    # Two waiting (one worker + 1), one in the model, one being decoded.
    assert counts["most waiting"] <= 4


def test_a_video_thumbnail_is_its_worst_frame(film, local, store, low_and_high, tmp_path):
    import numpy as np

    from nsfw_desktop.media.thumbnails import ThumbnailCache, make_thumbnail

    (low, _), (high, _) = low_and_high
    _, _, [result] = run_scan([film], local, store)
    worst = make_thumbnail(film, 64, result.worst_frame_time)
    middle_of_the_start = make_thumbnail(film, 64, 4.0)

    def distance(picture, reference):
        reference = reference.resize(picture.size)
        return float(np.abs(np.asarray(picture, float) - np.asarray(reference, float)).mean())

    assert distance(worst, high) < distance(worst, low)
    assert distance(middle_of_the_start, low) < distance(middle_of_the_start, high)
    assert max(make_thumbnail(film, 64).size) == 64  # the middle frame, without a time
    cache = ThumbnailCache(tmp_path / "thumbnails", size=64)
    assert cache.thumbnail(str(film), 4.0) != cache.thumbnail(str(film), result.worst_frame_time)


def test_a_film_with_one_keyframe_is_decoded_on_not_again_for_every_sample(tmp_path, monkeypatch):
    from nsfw_desktop.media import video as videos

    path = write_video(tmp_path / "screen-recording.mp4",
                       [(random_image(seed, SIZE), 5) for seed in range(8)], keyframe_every=1000)
    seeks = []
    real_seek = videos.seek
    monkeypatch.setattr(videos, "seek", lambda *args: (seeks.append(args[2]), real_seek(*args)))
    sampled = load_video(path, min_side=48)
    assert len(sampled.frames) == 8 and sampled.times == sorted(set(sampled.times))
    assert len(seeks) == 1  # each sample decodes on from the last, not from the film's start


def test_the_second_look_spreads_frames_between_the_best_sample_and_its_neighbours():
    times = [2.5, 7.5, 12.5, 17.5]
    assert refine_times(times, 20, 1, 4) == pytest.approx([4.1667, 5.8333, 9.1667, 10.8333], abs=1e-3)
    assert refine_times(times, 20, 0, 2) == pytest.approx([1.25, 5.0])  # from the film's start
    assert refine_times(times, 20, 3, 2) == pytest.approx([15.0, 18.75])  # to its end


@pytest.fixture(scope="module")
def low_mid_high(local):
    """Three pictures the tiny model scores low, in between and high, with their scores."""
    pictures = [random_image(seed, SIZE) for seed in range(30)]
    scores = [p.nsfw_score for p in local.predict([local.prepare(p) for p in pictures])]
    low, high = min(scores), max(scores)
    mid = min(range(30), key=lambda i: abs(scores[i] - (low + high) / 2))
    chosen = [(pictures[scores.index(low)], low), (pictures[mid], scores[mid]),
              (pictures[scores.index(high)], high)]
    assert min(chosen[1][1] - low, high - chosen[1][1]) > 0.05, "the tiny model no longer tells them apart"
    return chosen


def test_a_short_scene_between_samples_is_found_by_the_second_look(tmp_path, local, store, low_mid_high,
                                                                  monkeypatch):
    (low, low_score), (mid, mid_score), (high, high_score) = low_mid_high
    # 40 s sampled every 5 s (at 2.5, 7.5 ... 37.5): the sample at 22.5 s sees the lead-in,
    # the two seconds of the high scene (24 to 26 s) fall between it and the next sample.
    path = write_video(tmp_path / "film.mp4", [(low, 20), (mid, 4), (high, 2), (low, 14)])
    monkeypatch.setattr(refine, "REFINE_FROM", (low_score + mid_score) / 2)
    monkeypatch.setattr(refine, "REFINE_BELOW", (mid_score + high_score) / 2)  # the lead-in is in doubt

    with Store(tmp_path / "first-look-only.sqlite3") as other:
        _, _, [first_only] = run_scan([path], local, other, video_max_frames=8, video_refine_frames=0)
    between = (mid_score + high_score) / 2
    assert first_only.nsfw_score < between  # the high scene is missed
    assert first_only.frames == 8

    _, _, [result] = run_scan([path], local, store, video_max_frames=8)
    assert result.nsfw_score > between
    assert 24 <= result.worst_frame_time < 26
    assert result.frames == 12  # 8 sampled and 4 more around 22.5 s
    times = [t for t, _ in result.frame_scores]
    assert times == sorted(times) and len(times) == 12
    assert dict(result.frame_scores)[result.worst_frame_time] == result.nsfw_score
    assert store.get(str(path)).frame_scores == result.frame_scores


def test_a_clearly_safe_or_clearly_flagged_video_gets_no_second_look(film, local, store, monkeypatch):
    monkeypatch.setattr(refine, "REFINE_FROM", 1.0)  # no score is in doubt
    calls = []
    monkeypatch.setattr(refine, "prepare_video_at", lambda *args: calls.append(args))
    _, _, [result] = run_scan([film], local, store)
    assert (result.frames, len(result.frame_scores), calls) == (8, 8, [])
