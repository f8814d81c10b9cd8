from kiosk.faces import Detection, FaceBox
from kiosk.booth.stability import FaceState, SteadyTracker, overlap


def one(x, y=50, w=100):
    return Detection((FaceBox(x, y, w, w),))


def test_overlap():
    a = FaceBox(0, 0, 10, 10)
    assert overlap(a, a) == 1.0 and overlap(a, FaceBox(20, 20, 5, 5)) == 0.0
    assert abs(overlap(a, FaceBox(5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_steady_after_holding_still():
    t = SteadyTracker(steady_s=1.0, min_overlap=0.5, max_size_change=0.25)
    assert t.update(one(100), 0.0) is FaceState.MOVING
    assert t.update(one(104), 0.5) is FaceState.MOVING
    assert t.update(one(102), 1.0) is FaceState.STEADY


def test_a_jump_or_a_size_change_restarts_the_clock():
    t = SteadyTracker(1.0, 0.5, 0.25)
    t.update(one(100), 0.0)
    assert t.update(one(200), 1.0) is FaceState.MOVING  # moved too far
    assert t.update(one(200), 2.0) is FaceState.STEADY
    assert t.update(one(200, w=140), 2.5) is FaceState.MOVING  # stepped closer


def test_none_and_several_faces():
    t = SteadyTracker(0.0, 0.5, 0.25)
    assert t.update(Detection(()), 0.0) is FaceState.NONE
    two = Detection((FaceBox(0, 0, 50, 50), FaceBox(100, 0, 60, 60)))
    assert t.update(two, 0.1) is FaceState.SEVERAL
    assert t.update(one(100), 0.2) is FaceState.STEADY  # steady_s = 0: at once
