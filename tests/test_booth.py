"""Every transition of the booth's flow, driven by time, face state and presses."""

import dataclasses

import pytest

from kiosk.texts import Texts

WORDS = Texts.of()
from kiosk.booth.flow import Booth, Event, Phase
from kiosk.chain import Verdict
from kiosk.config import BoothConfig
from kiosk.booth.stability import FaceState

STEADY, MOVING, NONE, SEVERAL = FaceState.STEADY, FaceState.MOVING, FaceState.NONE, FaceState.SEVERAL
CAPTURE = [Event.CAPTURE]
VERDICT = Verdict("woman", 0.9, 3.4, 4, "ㅅㅌㅊ 입니다..")


def booth(**changes):
    return Booth(dataclasses.replace(BoothConfig(), **changes), now=0.0)


def test_press_countdown_capture_result_and_back_to_live():
    b = booth(countdown_s=3, result_s=8)
    assert b.phase is Phase.LIVE
    assert b.update(1.0, STEADY, pressed=True, camera_ok=True) == [Event.COUNTDOWN]
    assert b.phase is Phase.COUNTDOWN and b.countdown_left(1.0) == 3 and b.countdown_left(3.5) == 1
    assert b.update(3.9, STEADY, False, True) == []
    assert b.update(4.0, STEADY, False, True) == CAPTURE  # capture now
    assert b.phase is Phase.SCORING
    assert b.scored(VERDICT, 4.1) == [Event.RESULT]
    assert b.phase is Phase.RESULT and b.verdict == VERDICT
    assert b.update(12.0, STEADY, False, True) == []
    assert b.phase is Phase.RESULT
    assert b.update(12.2, STEADY, False, True) == [Event.LIVE]
    assert b.phase is Phase.LIVE


def test_zero_countdown_captures_on_the_press():
    b = booth(countdown_s=0)
    assert b.update(1.0, STEADY, True, True) == [Event.COUNTDOWN, Event.CAPTURE] and b.phase is Phase.SCORING


def test_press_on_result_returns_to_live_early():
    b = booth(countdown_s=0)
    b.update(1.0, STEADY, True, True)
    b.scored(VERDICT, 1.2)
    b.update(2.0, STEADY, True, True)
    assert b.phase is Phase.LIVE


@pytest.mark.parametrize("face", [NONE, SEVERAL, MOVING])
def test_no_steady_single_face_at_capture_gives_a_message_then_live(face):
    b = booth(countdown_s=2, message_s=3)
    b.update(0.0, STEADY, True, True)
    assert b.update(2.0, face, False, True) == [Event.CAPTURE_FAILED]
    assert b.phase is Phase.MESSAGE and b.message == WORDS.capture_failed(face)
    b.update(4.9, face, False, True)
    assert b.phase is Phase.MESSAGE
    b.update(5.0, face, False, True)
    assert b.phase is Phase.LIVE


def test_a_press_during_a_failure_message_tries_again_at_once():
    b = booth(countdown_s=2, message_s=3)
    b.update(0.0, STEADY, True, True)
    b.update(2.0, MOVING, False, True)
    assert b.phase is Phase.MESSAGE
    assert b.update(2.5, STEADY, True, True) == [Event.COUNTDOWN]  # not ignored for 3 s
    assert b.phase is Phase.COUNTDOWN
    b = booth(trigger="auto", countdown_s=0)
    b.update(0.0, STEADY, True, True)
    b.scored(None, 0.1)
    assert b.phase is Phase.MESSAGE and b.update(0.5, STEADY, True, True) == []  # auto only: no button


def test_failed_scoring_shows_a_message():
    b = booth(countdown_s=0)
    b.update(0.0, STEADY, True, True)
    assert b.scored(None, 0.5) == [Event.SCORING_FAILED]
    assert b.phase is Phase.MESSAGE and b.message == WORDS["scoring_failed"]


def test_idle_after_no_faces_and_back_on_a_face():
    b = booth(idle_after_s=20)
    b.update(5.0, STEADY, False, True)
    b.update(24.9, NONE, False, True)
    assert b.phase is Phase.LIVE
    assert b.update(25.0, NONE, False, True) == [Event.IDLE]
    assert b.phase is Phase.IDLE
    assert b.update(30.0, MOVING, False, True) == [Event.LIVE]
    assert b.phase is Phase.LIVE


def test_press_on_idle_starts_a_countdown_once_the_visitor_stands_still():
    b = booth(idle_after_s=1, countdown_s=3)
    b.update(2.0, NONE, False, True)
    assert b.phase is Phase.IDLE
    assert b.update(3.0, NONE, True, True) == [Event.WAITING]
    assert b.update(3.5, STEADY, False, True) == [Event.COUNTDOWN]


@pytest.mark.parametrize("face", [NONE, SEVERAL, MOVING])
def test_a_press_without_a_steady_single_face_shows_the_hint_and_waits_for_one(face):
    b = booth(countdown_s=3, press_wait_s=5)
    assert b.update(1.0, face, True, True) == [Event.WAITING]  # no countdown that must fail
    assert b.phase is Phase.WAITING and b.hint(face) == WORDS.hint(face)
    assert b.update(3.0, face, False, True) == []
    assert b.update(3.5, STEADY, False, True) == [Event.COUNTDOWN]  # steady within the wait: go
    b = booth(countdown_s=3, press_wait_s=5)
    b.update(1.0, face, True, True)
    assert b.update(5.9, face, False, True) == []
    assert b.update(6.0, face, False, True) == [Event.LIVE]  # never steady: the press is dropped, no scolding


def test_the_hint_stays_during_the_countdown():
    b = booth(countdown_s=3)
    b.update(1.0, STEADY, True, True)
    assert b.phase is Phase.COUNTDOWN
    assert b.hint(STEADY) == WORDS["auto_ready"] and b.hint(MOVING) == WORDS.hint(MOVING)


def test_auto_trigger_fires_once_per_steady_face():
    b = booth(trigger="auto", countdown_s=0)
    assert b.update(0.5, MOVING, False, True) == []
    assert Event.CAPTURE in b.update(1.0, STEADY, False, True)
    b.scored(VERDICT, 1.1)
    b.update(9.5, STEADY, False, True)  # result over, same person still steady
    assert b.phase is Phase.LIVE
    assert b.update(10.0, STEADY, False, True) == [] and b.phase is Phase.LIVE
    b.update(11.0, NONE, False, True)  # they leave; the next steady face triggers again
    assert Event.CAPTURE in b.update(12.0, STEADY, False, True)


@pytest.mark.parametrize("trigger, after_result", [("auto", WORDS["auto_again"]), ("both", WORDS.hint(STEADY))])
def test_the_live_hint_says_what_a_still_face_gets_after_an_auto_result(trigger, after_result):
    b = booth(trigger=trigger, countdown_s=0)
    assert b.hint(STEADY) == WORDS["auto_ready"]  # armed: holding still starts it
    b.update(1.0, STEADY, False, True)
    b.scored(VERDICT, 1.1)
    b.update(9.5, STEADY, False, True)  # result over, the same person still there
    assert b.phase is Phase.LIVE and b.hint(STEADY) == after_result  # not "hold still" forever
    b.update(10.0, NONE, False, True)
    assert b.hint(NONE) == WORDS.hint(NONE) and b.hint(STEADY) == WORDS["auto_ready"]  # armed again
    assert booth(trigger="button").hint(STEADY) == WORDS.hint(STEADY)


def test_button_only_ignores_steady_faces_and_auto_only_ignores_presses():
    b = booth(trigger="button")
    b.update(1.0, STEADY, False, True)
    assert b.phase is Phase.LIVE
    b = booth(trigger="auto")
    b.update(1.0, MOVING, True, True)
    assert b.phase is Phase.LIVE
    b = booth(trigger="both", countdown_s=5)
    b.update(1.0, STEADY, True, True)
    assert b.phase is Phase.COUNTDOWN


def test_camera_loss_interrupts_a_countdown_and_recovers():
    b = booth(countdown_s=3)
    b.update(0.0, STEADY, True, True)
    assert b.update(1.0, STEADY, False, camera_ok=False) == [Event.CAMERA_LOST]
    assert b.phase is Phase.NO_CAMERA and b.message == WORDS["camera_lost"]
    assert b.update(60.0, NONE, False, camera_ok=True) == [Event.CAMERA_BACK]
    assert b.phase is Phase.LIVE  # and not straight to idle after the long outage
    b.update(61.0, NONE, False, True)
    assert b.phase is Phase.LIVE


def test_camera_loss_does_not_abort_a_result():
    b = booth(countdown_s=0)
    b.update(0.0, STEADY, True, True)
    b.update(0.1, STEADY, False, camera_ok=False)
    assert b.phase is Phase.SCORING
    b.scored(VERDICT, 0.2)
    b.update(0.3, NONE, False, camera_ok=False)
    assert b.phase is Phase.RESULT


def test_a_result_times_out_while_the_camera_is_down():
    b = booth(countdown_s=0, result_s=8)
    b.update(0.0, STEADY, True, True)
    b.scored(VERDICT, 0.5)
    assert b.update(3.0, NONE, False, camera_ok=False) == [] and b.phase is Phase.RESULT
    assert b.update(8.5, NONE, False, camera_ok=False) == [Event.CAMERA_LOST]
    assert b.phase is Phase.NO_CAMERA and b.message == WORDS["camera_lost"]
    b = booth(countdown_s=0)  # a press on the result does the same at once
    b.update(0.0, STEADY, True, True)
    b.scored(VERDICT, 0.5)
    assert b.update(1.0, NONE, True, camera_ok=False) == [Event.CAMERA_LOST]


def test_late_verdict_after_leaving_scoring_is_ignored():
    b = booth(countdown_s=0)
    assert b.scored(VERDICT, 0.1) == []
    assert b.phase is Phase.LIVE and b.verdict is None


def test_a_pause_holds_whatever_happens_until_resumed():
    b = booth(countdown_s=3, idle_after_s=5)
    b.update(1.0, STEADY, True, True)
    assert b.phase is Phase.COUNTDOWN
    assert b.pause(2.0) == [Event.PAUSED] and b.phase is Phase.PAUSED and b.message == WORDS["paused"]
    assert b.pause(2.5) == []  # pausing twice is one pause
    for t, face, pressed, camera in ((3.0, STEADY, True, True), (10.0, NONE, False, True), (11.0, STEADY, True, False)):
        assert b.update(t, face, pressed, camera) == []  # no press, face, timeout or lost camera ends it
    assert b.phase is Phase.PAUSED and b.scored(VERDICT, 12.0) == [] and b.phase is Phase.PAUSED
    assert b.resume(20.0) == [Event.RESUMED] and b.phase is Phase.LIVE and b.verdict is None
    assert b.resume(20.5) == []
    assert b.update(21.0, NONE, False, True) == []  # the paused time was not time without a visitor
    assert b.update(21.0, STEADY, True, True) == [Event.COUNTDOWN]
    b.pause(22.0)
    b.resume(23.0)
    assert b.update(23.1, STEADY, False, False) == [Event.CAMERA_LOST]  # the camera is checked again at once
