import cv2
import numpy as np
import pytest

from kiosk.config import DetectionConfig
from kiosk.errors import KioskError
from kiosk.faces import FaceBox, FaceDetector, FaceStatus, crop_box, crop_face, largest_face_crop


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(DetectionConfig())


def grey(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def test_finds_the_astronauts_face(detector, astronaut_bgr):
    d = detector.detect(grey(astronaut_bgr))
    assert d.status is FaceStatus.ONE
    box = d.chosen
    # Her face sits around x 180-270, y 65-160 in the 512x512 portrait.
    assert 150 < box.x < 200 and 40 < box.y < 90 and 80 < box.w < 130


def test_blank_image_has_no_face(detector):
    d = detector.detect(np.full((480, 640), 128, np.uint8))
    assert d.status is FaceStatus.NONE and d.chosen is None and d.faces == ()


def test_two_faces_choose_the_largest(detector, two_faces_bgr):
    d = detector.detect(grey(two_faces_bgr))
    assert d.status is FaceStatus.SEVERAL
    assert 150 < d.chosen.x < 200 and d.chosen == max(d.faces, key=lambda b: b.area)
    # The smaller copy's face (at about x 645, y 113 in the composite) is among the faces found.
    assert any(abs(b.x - 645) < 20 and abs(b.y - 113) < 20 for b in d.faces)


def test_second_look_finds_a_faint_face_only_when_asked(astronaut_bgr):
    faint = cv2.convertScaleAbs(grey(astronaut_bgr), alpha=0.2, beta=100)  # washed out, low contrast
    strict = FaceDetector(DetectionConfig(min_neighbors=20, fallback_min_neighbors=2))
    assert strict.detect(faint).status is FaceStatus.NONE
    assert strict.detect(faint, fallback=True).status is not FaceStatus.NONE
    off = FaceDetector(DetectionConfig(min_neighbors=20, fallback_min_neighbors=0))
    assert off.detect(faint, fallback=True).status is FaceStatus.NONE


def test_large_images_are_detected_in_original_pixels(detector, astronaut_bgr):
    big = cv2.resize(astronaut_bgr, (2048, 2048))
    box = detector.detect(grey(big)).chosen
    small = detector.detect(grey(astronaut_bgr)).chosen
    assert abs(box.x - 4 * small.x) < 40 and abs(box.w - 4 * small.w) < 40


def test_min_face_bound_excludes_small_faces(astronaut_bgr):
    strict = FaceDetector(DetectionConfig(min_face=0.5))
    assert strict.detect(grey(astronaut_bgr)).status is FaceStatus.NONE


def test_crop_is_square_rgb_with_margin(astronaut_bgr):
    box = FaceBox(180, 70, 90, 90)
    c = crop_box(box, 0.25)
    assert (c.w, c.h) == (135, 135) and (c.x, c.y) == (round(225 - 67.5), round(115 - 67.5))
    crop = crop_face(astronaut_bgr, box, 0.25, 64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    # Colour order is RGB: the centre pixel equals the BGR source reversed.
    centre = astronaut_bgr[70 + 45, 180 + 45]
    assert np.abs(crop[32, 32].astype(int) - centre[::-1].astype(int)).max() < 40


def test_crop_at_the_border_replicates_edges():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, :50] = (255, 0, 0)
    crop = crop_face(image, FaceBox(0, 0, 40, 40), 0.5, 80)
    assert crop.shape == (80, 80, 3)
    assert (crop[:, 0] == (0, 0, 255)).all()  # the blue edge replicated, as RGB


def test_largest_face_crop_matches_manual_steps(detector, astronaut_bgr):
    detection, crop = largest_face_crop(astronaut_bgr, detector, 0.25, 96)
    assert np.array_equal(crop, crop_face(astronaut_bgr, detection.chosen, 0.25, 96))
    _, none = largest_face_crop(np.zeros((200, 200, 3), np.uint8), detector, 0.25, 96)
    assert none is None


def test_an_opencv_without_haar_cascades_is_named_in_one_line(monkeypatch):
    # OpenCV 5 (e.g. a GPU machine's image) has no CascadeClassifier: say which OpenCV to install.
    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(KioskError, match=r"has no Haar cascades .*opencv-python-headless<5"):
        FaceDetector(DetectionConfig())
