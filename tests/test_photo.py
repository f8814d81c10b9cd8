import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk.config import PhotosConfig
from kiosk.photo import PhotoError, read_photo

LIMITS = PhotosConfig()


def test_formats_decode_to_8bit_bgr(tmp_path, astronaut_bgr):
    cv2.imwrite(str(tmp_path / "a16.png"), astronaut_bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(tmp_path / "a.bmp"), astronaut_bgr)
    cv2.imwrite(str(tmp_path / "a.webp"), astronaut_bgr)
    for name in ("a16.png", "grey.png", "rgba.png", "a.bmp", "a.webp"):
        photo = read_photo(tmp_path / name, LIMITS)
        assert photo.image.shape == (512, 512, 3) and photo.image.dtype == np.uint8, name
        assert photo.scale == 1


def test_animated_gif_gives_its_first_frame(tmp_path, astronaut_bgr):
    rgb = Image.fromarray(astronaut_bgr[:, :, ::-1])
    rgb.save(tmp_path / "anim.gif", save_all=True, append_images=[rgb.rotate(90)])
    assert read_photo(tmp_path / "anim.gif", LIMITS).image.shape == (512, 512, 3)


def test_exif_orientation_is_applied(tmp_path):
    # A 200x100 landscape stored with orientation 6 ("rotate 90 clockwise") is 100x200 upright.
    pixels = np.zeros((100, 200, 3), np.uint8)
    pixels[:, :20] = 255  # a white band on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "rot.jpg", exif=exif)
    image = read_photo(tmp_path / "rot.jpg", LIMITS).image
    assert image.shape[:2] == (200, 100)
    assert image[:20].mean() > 200 and image[-20:].mean() < 50  # the band is now on top


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"hello, not a photo", "not an image"),
    (np.random.default_rng(1).bytes(4096), "not an image"),
])
def test_broken_files_raise_one_line(tmp_path, content, reason):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(PhotoError, match=reason) as err:
        read_photo(path, LIMITS)
    assert "\n" not in str(err.value)


def test_truncated_jpeg_is_an_error(tmp_path, astronaut_bgr):
    ok, data = cv2.imencode(".jpg", astronaut_bgr)
    (tmp_path / "t.jpg").write_bytes(data.tobytes()[: len(data) // 3])
    with pytest.raises(PhotoError):
        read_photo(tmp_path / "t.jpg", LIMITS)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PhotoError, match="cannot read file"):
        read_photo(tmp_path / "none.jpg", LIMITS)
    with pytest.raises(PhotoError, match="is a folder"):
        read_photo(tmp_path, LIMITS)
