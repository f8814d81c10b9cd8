import cv2
import numpy as np

from kiosk.config import DetectionConfig, LiveConfig
from kiosk.faces import FaceDetector, FaceStatus
from kiosk.booth.live import LiveDetector


def grey(image):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def test_tracks_near_the_last_face_and_notices_a_second_person(astronaut_bgr, two_faces_bgr):
    live = LiveDetector(FaceDetector(DetectionConfig()), LiveConfig(full_every=4))
    alone = grey(cv2.resize(astronaut_bgr, (320, 320)))
    first = live.detect(alone)
    assert first.status is FaceStatus.ONE
    calls = []
    original = live.detector.search
    live.detector.search = lambda g, *a: calls.append(g.shape) or original(g, *a)
    moved = np.roll(alone, 4, axis=1)  # she sways a little
    second = live.detect(moved)
    assert second.status is FaceStatus.ONE and abs(second.chosen.x - first.chosen.x - 4) <= 4
    assert calls[-1][0] < 320 and calls[-1][1] < 320  # only a window around her was searched

    both = grey(cv2.resize(two_faces_bgr, (640, 320)))
    statuses = [live.detect(both).status for _ in range(4)]
    assert FaceStatus.SEVERAL in statuses  # within full_every frames


def test_lost_face_falls_back_to_a_full_search(astronaut_bgr):
    live = LiveDetector(FaceDetector(DetectionConfig()), LiveConfig(full_every=100))
    live.detect(grey(cv2.resize(astronaut_bgr, (320, 320))))
    empty = np.full((320, 320), 128, np.uint8)
    assert live.detect(empty).status is FaceStatus.NONE and live.last is None
