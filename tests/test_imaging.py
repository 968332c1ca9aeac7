import io
import os
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.media.imaging import ImageError, load_image, looks_like_image
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


def gradient(size) -> Image.Image:
    """A smooth, noise-free picture: compresses like a photo's sky, not like noise."""
    x = np.linspace(0, 255, size[0], dtype=np.float32)[None, :]
    y = np.linspace(0, 255, size[1], dtype=np.float32)[:, None]
    planes = np.broadcast_arrays(x, y, (x + y) / 2)
    return Image.fromarray(np.stack(planes, axis=-1).astype(np.uint8))


@pytest.mark.parametrize("size, min_side", [((400, 300), None), ((4000, 3000), 448)])
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_cut_at_thirty_percent_is_truncated(tmp_path, size, min_side, progressive):
    path = tmp_path / "cut.jpg"
    gradient(size).save(path, quality=90, progressive=progressive)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 10])
    with pytest.raises(ImageError, match="truncated"):
        load_image(path, min_side=min_side)


def jpeg_claiming(path, width, height, *, progressive=False):
    """A complete small JPEG whose frame header is patched to claim a larger picture:
    the data ends (end-of-image marker included) long before the claimed picture does."""
    buffer = io.BytesIO()
    random_image(1, (64, 48)).save(buffer, "JPEG", quality=90, progressive=progressive)
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("min_side", [None, 448])
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_whose_data_ends_before_its_picture_is_truncated(tmp_path, min_side, progressive):
    # Without the check it decodes "successfully", padded with grey (draft or not).
    path = jpeg_claiming(tmp_path / "short.jpg", 11000, 11000, progressive=progressive)
    with pytest.raises(ImageError, match="truncated: the file ends before the picture does"):
        load_image(path, min_side=min_side)


def test_flat_jpeg_is_not_mistaken_for_truncated(tmp_path):
    # A flat picture is the smallest a complete JPEG gets: about two bits per block.
    path = tmp_path / "flat.jpg"
    Image.new("RGB", (2000, 2000), (40, 40, 40)).save(path, quality=95, optimize=True)
    assert load_image(path, min_side=448).width == 2000


@pytest.mark.parametrize("content", [b"", b"hello, not a picture", b"\xff\xd8\xff\xe0garbage"])
def test_non_images_are_reported(tmp_path, content):
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert str(caught.value)


@pytest.mark.timeout(20)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_with_an_image_name_is_refused_without_blocking(tmp_path):
    path = tmp_path / "x.jpg"
    os.mkfifo(path)  # opened the ordinary way, it waits for a writer forever
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(path)


def test_folder_is_reported(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageError, match="disappeared"):
        load_image(tmp_path / "gone.jpg")


def webp_claiming(path, width, height):
    """A lossless WebP of one pixel (38 bytes) patched to claim ``width`` x ``height``.
    With one colour every Huffman code is empty, so it decodes to the full picture."""
    buffer = io.BytesIO()
    Image.new("RGBA", (1, 1), (10, 20, 30, 128)).save(buffer, "WEBP", lossless=True)
    data = bytearray(buffer.getvalue())
    header = data.index(b"VP8L") + 9  # past the chunk size and the 0x2f signature
    bits = struct.unpack("<I", data[header:header + 4])[0] & ~((1 << 28) - 1)
    data[header:header + 4] = struct.pack("<I", bits | (width - 1) | ((height - 1) << 14))
    path.write_bytes(bytes(data))
    return path


def png_of_zeros(path, width, height, color_type=6):
    """A valid PNG of transparent black (RGBA by default) that zlib squeezes about 1000:1."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    channels = {0: 1, 2: 3, 6: 4}[color_type]
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + channels * width)  # filter byte, then the pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def test_tiny_webp_claiming_a_huge_picture_is_refused_unread(tmp_path):
    # 38 bytes that decoded to 11000x11000 RGBA cost 3.7 GB of memory.
    path = webp_claiming(tmp_path / "claim.webp", 11000, 11000)
    with pytest.raises(ImageError, match=r"claims 11000x11000 pixels \(121 MP, 1\.8 GB to decode\), "
                                         r"more than the 512 MB"):
        load_image(path)


def test_small_rgba_png_claiming_a_huge_picture_is_refused_unread(tmp_path):
    # Under the megapixel limit, but 470 KB that decoded to 2.8 GB of memory.
    path = png_of_zeros(tmp_path / "claim.png", 11000, 11000)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match=r"claims 11000x11000 pixels .* more than the 512 MB"):
        load_image(path, min_side=448)


def test_hundred_megapixel_png_gets_a_plain_reason(tmp_path):
    with pytest.raises(ImageError, match=r"10000x10000 pixels \(100 MP, 763 MB to decode\)"):
        load_image(png_bomb(tmp_path / "large.png", 10_000, 10_000))


def test_budget_is_set_per_call(tmp_path):
    # RGBA: four bytes a pixel for the picture, four for the RGB result.
    path = png_of_zeros(tmp_path / "rgba.png", 1000, 1000)
    assert load_image(path, max_decode_bytes=8_000_000).frames[0].getpixel((5, 5)) == (255, 255, 255)
    with pytest.raises(ImageError, match=r"\(1 MP, 8 MB to decode\), more than the 8 MB"):
        load_image(path, max_decode_bytes=7_999_999)


def test_progressive_jpeg_counts_its_full_size_coefficients(tmp_path):
    # Decoded reduced to 500x500, but libjpeg keeps every coefficient of 2000x2000 (11 MB).
    baseline, progressive = tmp_path / "baseline.jpg", tmp_path / "progressive.jpg"
    gradient((2000, 2000)).save(baseline, quality=90)
    gradient((2000, 2000)).save(progressive, quality=90, progressive=True)
    budget = 8 * 1024 * 1024
    assert load_image(baseline, min_side=448, max_decode_bytes=budget).frames[0].size == (500, 500)
    with pytest.raises(ImageError, match=r"claims 2000x2000 pixels \(4 MP, 1[0-9] MB to decode\)"):
        load_image(progressive, min_side=448, max_decode_bytes=budget)


def test_half_transparent_pixels_blend_over_white(tmp_path):
    path = tmp_path / "half.png"
    Image.new("RGBA", (4, 4), (255, 0, 0, 128)).save(path)
    assert load_image(path).frames[0].getpixel((1, 1)) == (255, 127, 127)


def test_signatures():
    assert looks_like_image(b"\xff\xd8\xff\xe1....")
    assert looks_like_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert looks_like_image(b"\x00\x00\x00\x18ftypheic")
    assert not looks_like_image(b"%PDF-1.7")


def test_decoding_leaves_the_process_wide_warning_filters_alone():
    """The warnings filters are one for the whole process, and changing them is not thread-safe:
    decode threads that each silenced a warning for their call restored each other's filters (a
    warning escaped as an error in the tests; a model export on another thread lost its own)."""
    entered, release = threading.Event(), threading.Event()
    buffer = io.BytesIO()
    random_image(0, (640, 480)).save(buffer, "PNG")

    class HeldSource(io.BytesIO):
        """A file whose reading waits until the test has looked at the filters."""

        def read(self, *args):
            entered.set()
            release.wait(10)
            return super().read(*args)

    before = list(warnings.filters)
    decoding = threading.Thread(target=load_image, args=(HeldSource(buffer.getvalue()),))
    decoding.start()
    assert entered.wait(10)
    during = list(warnings.filters)
    release.set()
    decoding.join()
    assert during == before
