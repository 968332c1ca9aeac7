import os

import pytest

from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.thumbnails import THUMBNAIL_SIZE, ThumbnailCache, make_thumbnail, privacy_blur
from tests.conftest import random_image, write_photos


def test_thumbnail_is_small_upright_and_cached(tmp_path, isolated_home):
    photo = tmp_path / "wide.jpg"
    random_image(1, (800, 400)).save(photo)
    cache = ThumbnailCache()
    first = cache.thumbnail(str(photo))
    assert first.is_relative_to(isolated_home / "cache")
    from PIL import Image

    with Image.open(first) as thumb:
        assert thumb.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
    made_at = first.stat().st_mtime_ns
    assert cache.thumbnail(str(photo)) == first
    assert first.stat().st_mtime_ns == made_at  # reused, not made again


def test_a_changed_file_gets_a_new_thumbnail(tmp_path):
    (photo,) = write_photos(tmp_path, 1, size=(100, 100))
    cache = ThumbnailCache(tmp_path / "cache")
    before = cache.thumbnail(str(photo))
    random_image(9, (100, 100)).save(photo)
    os.utime(photo, ns=(1, 1_000_000_000))
    after = cache.thumbnail(str(photo))
    assert after != before and after.exists()


def test_missing_and_corrupt_files_raise_image_error(tmp_path):
    cache = ThumbnailCache(tmp_path / "cache")
    with pytest.raises(ImageError, match="no longer exists"):
        cache.thumbnail(str(tmp_path / "gone.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really")
    with pytest.raises(ImageError):
        cache.thumbnail(str(broken))
    assert not list((tmp_path / "cache").rglob("*.jpg"))


def test_exif_rotation_is_applied(tmp_path):
    from PIL import Image

    photo = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    random_image(2, (400, 200)).save(photo, exif=exif)
    assert make_thumbnail(photo).size == (THUMBNAIL_SIZE // 2, THUMBNAIL_SIZE)


def test_privacy_blur_removes_detail():
    import numpy as np

    sharp = random_image(3, (192, 144))
    blurred = privacy_blur(sharp)
    assert blurred.size == sharp.size
    # Neighbouring pixels of the blurred image differ far less than in the original.
    def roughness(img):
        return np.abs(np.diff(np.asarray(img, dtype=np.int16), axis=1)).mean()
    assert roughness(blurred) < roughness(sharp) / 4


def test_thumbnails_are_readable_by_the_owner_only(tmp_path, isolated_home):
    old = os.umask(0o022)
    try:
        (photo,) = write_photos(tmp_path / "photos", 1)
        thumbnail = ThumbnailCache().thumbnail(str(photo))
        modes = {p: os.stat(p).st_mode & 0o777
                 for p in (thumbnail, thumbnail.parent, thumbnail.parent.parent, isolated_home / "cache")}
    finally:
        os.umask(old)
    assert list(modes.values()) == [0o600, 0o700, 0o700, 0o700]
