"""Videos in the desktop app: the tile shows the worst frame, a play badge and the duration."""

from PIL import Image

from nsfw_desktop.gui.tile_delegate import PADDING, video_duration_text
from tests.videos import write_video


def test_durations_read_like_a_player_shows_them():
    assert [video_duration_text(s) for s in (4.4, 65, 3725, None)] == ["0:04", "1:05", "1:02:05", "\u2013"]


def test_a_video_tile_shows_its_frame_with_a_play_badge_and_a_photo_none(make_window, scan, tmp_path,
                                                                         qtbot):
    folder = tmp_path / "camera"
    folder.mkdir()
    white = Image.new("RGB", (128, 96), "white")
    write_video(folder / "VID_0001.mp4", [(white, 65)], keyframe_every=10)
    white.save(folder / "IMG_0001.png")
    window = make_window([folder])
    scan(window)
    window.filters.slider.setValue(100)  # nothing flagged, nothing hidden
    model, grid = window.model, window.grid
    rows = {model.result(row).kind: row for row in range(model.rowCount())}
    assert set(rows) == {"image", "video"}
    video = model.result(rows["video"])
    assert video.duration == 65 and video.worst_frame_time is not None

    def drawn():
        grid.viewport().repaint()
        qtbot.wait(10)
        return all(window.loader.pixmaps(model.result(r).path) is not None for r in rows.values())

    qtbot.waitUntil(drawn, timeout=20_000)
    assert window.loader.failure(video.path) is None
    shot = grid.viewport().grab().toImage()

    side = grid.itemDelegate().side

    def badge_spot(row):
        """Just inside the bottom left corner of the picture, which sits on its square's bottom."""
        tile = window.delegate.tile_rect(grid.visualRect(model.index(row))).adjusted(2, 2, -2, -2)
        left, bottom = tile.left() + PADDING - 2, tile.top() + PADDING - 2 + side - 1
        return shot.pixelColor(left + 5, bottom - 6)

    assert badge_spot(rows["video"]).lightness() < 100  # the badge over the white frame
    assert badge_spot(rows["image"]).lightness() > 200  # the white photo, no badge

    grid.setCurrentIndex(model.index(rows["video"]))
    assert window.detail.fields["Video"].text() == (
        f"1:05, highest-scoring frame at {video_duration_text(video.worst_frame_time)} of 13 sampled")
    grid.setCurrentIndex(model.index(rows["image"]))
    assert window.detail.fields["Video"].text() == ""
    window.close()
