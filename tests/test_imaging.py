import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.imaging import ImageError, load_image, looks_like_image
from tests.conftest import png_bomb, random_image


def two_tone(size=(120, 80)) -> Image.Image:
    """Red left half, blue right half: shows which way a picture was turned."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    pixels[:, size[0] // 2:] = (0, 0, 255)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_common_formats_decode_to_rgb(tmp_path, fmt):
    path = tmp_path / "picture"  # no extension: the format comes from the content
    random_image(1, (80, 60)).save(path, fmt)
    decoded = load_image(path)
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == (80, 60)
    assert [f.mode for f in decoded.frames] == ["RGB"]


def test_heic_decodes(tmp_path):
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    random_image(2, (64, 48)).save(path, "HEIF")
    decoded = load_image(path)
    assert decoded.frames[0].size == (64, 48)


def test_avif_decodes_where_pillow_supports_it(tmp_path):
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow is built without AVIF")
    path = tmp_path / "photo.avif"
    random_image(6, (48, 32)).save(path, "AVIF")
    assert load_image(path).frames[0].size == (48, 32)


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held turned: rotate 90 degrees clockwise to view
    two_tone().save(path, "JPEG", exif=exif, quality=95)
    decoded = load_image(path)
    frame = np.asarray(decoded.frames[0])
    assert (decoded.width, decoded.height) == (80, 120)
    assert frame.shape == (120, 80, 3)
    top, bottom = frame[5, 40], frame[-5, 40]
    assert top[0] > 200 and top[2] < 60  # red half now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(path)
    assert load_image(path).frames[0].getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA"])
def test_other_modes_become_rgb(tmp_path, mode):
    path = tmp_path / "img.tiff"
    random_image(3, (32, 32)).convert(mode).save(path)
    assert load_image(path).frames[0].mode == "RGB"


def test_sixteen_bit_grayscale_keeps_its_range(tmp_path):
    path = tmp_path / "deep.png"
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))
    Image.fromarray(ramp).save(path)
    frame = np.asarray(load_image(path).frames[0])
    assert frame[0, 0, 0] == 0 and frame[0, -1, 0] == 255


def test_animation_samples_several_frames(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 16), (i * 20, 0, 0)) for i in range(10)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    decoded = load_image(path, max_frames=4)
    reds = [f.getpixel((8, 8))[0] for f in decoded.frames]
    assert len(reds) == 4
    assert reds[0] < 10 and reds[-1] > 170  # first and last frames included


def test_large_jpeg_decodes_reduced_but_not_below_min_side(tmp_path):
    path = tmp_path / "big.jpg"
    random_image(4, (4000, 3000)).save(path, quality=90)
    decoded = load_image(path, min_side=448)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert min(decoded.frames[0].size) >= 448
    assert decoded.frames[0].size[0] <= 1000


def test_bomb_is_refused_from_the_header(tmp_path):
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(png_bomb(tmp_path / "bomb.png", 20_000, 20_000))


def test_bomb_over_pillows_own_limit_gets_the_same_reason(tmp_path):
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(png_bomb(tmp_path / "bomb.png"))


def test_truncated_jpeg_is_reported(tmp_path):
    path = tmp_path / "cut.jpg"
    random_image(5, (400, 300)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(path)


@pytest.mark.parametrize("content", [b"", b"hello, not a picture", b"\xff\xd8\xff\xe0garbage"])
def test_non_images_are_reported(tmp_path, content):
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert str(caught.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageError, match="disappeared"):
        load_image(tmp_path / "gone.jpg")


def test_signatures():
    assert looks_like_image(b"\xff\xd8\xff\xe1....")
    assert looks_like_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert looks_like_image(b"\x00\x00\x00\x18ftypheic")
    assert not looks_like_image(b"%PDF-1.7")
