"""Every word a visitor reads, in one place (Korean first, as the seed; English after for guests)."""

from .stability import FaceState

HINTS = {
    FaceState.NONE: "카메라 앞에 서 주세요",
    FaceState.SEVERAL: "한 명만 서 주세요",
    FaceState.MOVING: "잠깐만 가만히 있어 주세요",
    FaceState.STEADY: "준비 완료! 버튼을 눌러 주세요",
}
AUTO_READY = "준비 완료! 그대로 계세요"
AUTO_AGAIN = "한 번 더 하려면 잠깐 비켜 주세요"  # the auto trigger waits for the face to move or leave
CAPTURE_FAILED = {
    FaceState.NONE: "얼굴이 보이지 않아요. 다시 해 볼까요?",
    FaceState.SEVERAL: "한 명씩 찍어 주세요. 다시 해 볼까요?",
    FaceState.MOVING: "움직이면 안 돼요. 다시 해 볼까요?",
}
SCORING = "분석 중..."
SCORING_FAILED = "앗, 분석에 실패했어요. 다시 해 주세요"
CAMERA_LOST = "카메라 연결 중... 잠시만 기다려 주세요"
CAMERA_LOST_DETAIL = "camera unavailable, reconnecting"
IDLE_TITLE = "얼굴 평가 부스"
IDLE_STEPS = ("1. 카메라 앞에 혼자 서세요", "2. 얼굴이 초록색 네모 안에 들어오면", "3. 큰 버튼을 누르세요!")
IDLE_STEPS_AUTO = ("1. 카메라 앞에 혼자 서세요", "2. 가만히 있으면 자동으로 찍혀요", "")
JUST_FOR_FUN = "재미로 보는 결과예요 · just for fun, not a real judgement"
GENDER = {"man": "남자", "woman": "여자", "unsure": "성별 판단 보류"}  # unsure: p_woman exactly 0.5 (kiosk.chain)
SCORE_LINE = "{gender} · 점수 {score:.2f} / 5 · {stars}"
TAKEAWAY_TITLE = "폰 카메라로 찍어 결과 가져가기"  # beside the take-home QR code on the result screen
TAKEAWAY_NOTE = "{minutes}분 뒤 사라지고, 저장되지 않아요"
STAR, NO_STAR = "★", "☆"  # rank as stars: in Korean "1등급" would read as the best


def all_texts(rank_texts: tuple[str, ...] = ()) -> list[str]:
    """Everything drawn on screen (with the configured verdicts), for the font's Hangul self-test."""
    texts = [*HINTS.values(), AUTO_READY, AUTO_AGAIN, *CAPTURE_FAILED.values(), SCORING, SCORING_FAILED, CAMERA_LOST,
             CAMERA_LOST_DETAIL,
             IDLE_TITLE, *IDLE_STEPS, *IDLE_STEPS_AUTO, JUST_FOR_FUN, *GENDER.values(), SCORE_LINE, TAKEAWAY_TITLE, TAKEAWAY_NOTE, STAR, NO_STAR]
    return [t for t in [*texts, *rank_texts] if t]


def stars(rank: int) -> str:
    return STAR * rank + NO_STAR * (5 - rank)
