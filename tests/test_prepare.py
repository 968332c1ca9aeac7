"""One decode-and-prepare: scans, the server and heatmaps read a picture the same way."""

from __future__ import annotations

import io

import pytest

from nsfw_desktop.explain.heatmap import explain_file
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.scan.prepare import decode_and_prepare
from nsfw_desktop.scan.types import DecodeOptions
from tests.conftest import png_bomb, random_image, write_photos


@pytest.fixture(scope="module")
def loaded(tiny_model):
    """The tiny ViT, loaded once for the module."""
    from nsfw_desktop.classify import make_classifier

    classifier = make_classifier(str(tiny_model), device="cpu")
    classifier.load()
    return classifier


def test_bytes_and_files_prepare_alike(loaded, tmp_path):
    [photo] = write_photos(tmp_path, 1, size=(640, 480), fmt="JPEG")
    from_file = decode_and_prepare(photo, loaded)
    from_bytes = decode_and_prepare(io.BytesIO(photo.read_bytes()), loaded)
    assert (from_file.width, from_file.height) == (640, 480)
    assert len(from_file.inputs) == len(from_file.frames) == 1
    assert from_file.inputs[0].equal(from_bytes.inputs[0])


def test_an_animation_keeps_its_frame_limit(loaded, tmp_path):
    frames = [random_image(seed) for seed in range(6)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert len(decode_and_prepare(path, loaded, DecodeOptions(max_frames=3)).inputs) == 3
    assert len(decode_and_prepare(path, loaded, max_frames=1).inputs) == 1


def test_scan_heatmap_and_server_refuse_a_bomb_with_the_same_words(loaded, tmp_path):
    from nsfw_desktop.server.contract import Contract

    bomb = png_bomb(tmp_path / "bomb.png")
    with pytest.raises(ImageError) as direct:
        decode_and_prepare(bomb, loaded)
    [[scanned]] = list(classify_entries(entries_for_paths([str(bomb)]), loaded))
    with pytest.raises(ImageError) as heatmap:
        explain_file(loaded, bomb)
    with pytest.raises(ImageError) as served:
        Contract(loaded).prepare(bomb.read_bytes(), "image/png")
    assert "decompression bomb" in str(direct.value)
    assert scanned.error == str(direct.value) == str(heatmap.value) == str(served.value)


def test_a_heatmap_scores_what_it_decodes(loaded, tmp_path):
    [photo] = write_photos(tmp_path, 1, size=(300, 200))
    explanation = explain_file(loaded, photo, side=150)
    assert explanation.overlay.size == (150, 100)  # drawn on the preview
    prepared = decode_and_prepare(photo, loaded, min_side=150)
    expected = loaded.predict(prepared.inputs)[0].nsfw_score
    assert explanation.prediction.nsfw_score == pytest.approx(expected, abs=1e-5)


def test_decode_options_refuse_nonsense():
    with pytest.raises(ValueError, match="batch size"):
        DecodeOptions(batch_size=0)
    with pytest.raises(ValueError, match="max frames"):
        DecodeOptions(max_frames=0)
