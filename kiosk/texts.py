"""Every word a visitor reads, in one table: a Korean set (the seed's) and an English one with the
same keys. `[texts] language` picks the set and `[texts] <key>` replaces any single text (config.py
builds its [texts] options from `KO`, so a new key here is a new option there)."""

from __future__ import annotations

from dataclasses import dataclass

KO = {
    # What to do now, by the face the camera sees (live screen, countdown, a press waiting).
    "hint_none": "카메라 앞에 서 주세요",
    "hint_several": "한 명만 서 주세요",
    "hint_moving": "잠깐만 가만히 있어 주세요",
    "hint_steady": "준비 완료! 버튼을 눌러 주세요",
    "auto_ready": "준비 완료! 그대로 계세요",
    "auto_again": "한 번 더 하려면 잠깐 비켜 주세요",  # the auto trigger waits for the face to move or leave
    # Short messages after a capture that could not be scored.
    "failed_none": "얼굴이 보이지 않아요. 다시 해 볼까요?",
    "failed_several": "한 명씩 찍어 주세요. 다시 해 볼까요?",
    "failed_moving": "움직이면 안 돼요. 다시 해 볼까요?",
    "scoring": "분석 중...",
    "scoring_failed": "앗, 분석에 실패했어요. 다시 해 주세요",
    "camera_lost": "카메라 연결 중... 잠시만 기다려 주세요",
    # The operator paused the booth (/admin); the second line in English for guests.
    "paused": "잠시 쉬는 중",
    "paused_detail": "paused for a moment, back soon",
    # The how-to screen after a while without a face.
    "idle_title": "얼굴 평가 부스",
    "idle_step_1": "1. 카메라 앞에 혼자 서세요",
    "idle_step_2": "2. 얼굴이 초록색 네모 안에 들어오면",
    "idle_step_3": "3. 큰 버튼을 누르세요!",
    "idle_auto_step_1": "1. 카메라 앞에 혼자 서세요",
    "idle_auto_step_2": "2. 가만히 있으면 자동으로 찍혀요",
    # The result.
    "rank_1": "ㅆㅎㅌㅊ 입니다..힘내세요..",
    "rank_2": "ㅎㅌㅊ 입니다..",
    "rank_3": "ㅍㅌㅊ 입니다..",
    "rank_4": "ㅅㅌㅊ 입니다..",
    "rank_5": "ㅆㅅㅌㅊ 입니다. 축하합니다!",
    "man": "남자",
    "woman": "여자",
    "unsure": "성별 판단 보류",  # p_woman exactly 0.5 (kiosk.chain)
    "score_line": "{gender} · 점수 {score:.2f} / 5 · {stars}",
    "just_for_fun": "재미로 보는 결과예요 · just for fun, not a real judgement",
    # The privacy and AI notice on the idle and live screens: what the camera and the AI do, what is
    # kept, and that the visitor chooses (EU AI Act: biometric categorisation must be disclosed).
    "notice_ai": "카메라와 AI가 성별과 점수를 추정해요",
    "notice_nothing_stored": "사진은 저장되지 않아요",
    "notice_captures_stored": "찍은 사진은 이 부스에 저장돼요",
    "notice_button": "버튼을 누를 때만 평가해요",
    "notice_auto": "가만히 서 있으면 자동으로 평가해요",
    # Beside the take-home QR code on the result screen ([web] takeaway).
    "takeaway_title": "폰 카메라로 찍어 결과 가져가기",
    "takeaway_note": "{minutes}분 뒤 사라지고, 저장되지 않아요",
}

EN = {
    "hint_none": "Step in front of the camera",
    "hint_several": "One person at a time, please",
    "hint_moving": "Hold still for a moment",
    "hint_steady": "Ready! Press the button",
    "auto_ready": "Ready! Stay just like that",
    "auto_again": "To go again, step aside for a moment",
    "failed_none": "No face in the picture. Try again?",
    "failed_several": "One person at a time. Try again?",
    "failed_moving": "You moved. Try again?",
    "scoring": "Thinking...",
    "scoring_failed": "Oops, that did not work. Please try again",
    "camera_lost": "Connecting the camera... one moment",
    "paused": "Taking a short break",
    "paused_detail": "back in a moment",
    "idle_title": "Face-scoring booth",
    "idle_step_1": "1. Stand in front of the camera, alone",
    "idle_step_2": "2. When your face is in the green box",
    "idle_step_3": "3. press the big button!",
    "idle_auto_step_1": "1. Stand in front of the camera, alone",
    "idle_auto_step_2": "2. Hold still and it takes the picture",
    # The seed's five verdicts are blunt Korean internet slang (bottom / low / middle / upper / top
    # "tier"); these keep the scale and drop the sting.
    "rank_1": "Bottom tier... chin up!",
    "rank_2": "Lower tier...",
    "rank_3": "Middle tier",
    "rank_4": "Upper tier!",
    "rank_5": "Top tier! Congratulations!",
    "man": "man",
    "woman": "woman",
    "unsure": "gender unsure",
    "score_line": "{gender} · score {score:.2f} / 5 · {stars}",
    "just_for_fun": "Just for fun: not a real judgement",
    "notice_ai": "A camera and an AI estimate gender and a score",
    "notice_nothing_stored": "no photo is stored",
    "notice_captures_stored": "photos are saved on this booth",
    "notice_button": "only when you press the button",
    "notice_auto": "holding still starts it",
    "takeaway_title": "Scan to take your result home",
    "takeaway_note": "gone in {minutes} minutes, never saved",
}
SETS = {"ko": KO, "en": EN}
LANGUAGES = tuple(SETS)
MAX_LENGTH = 60  # characters of one text: what the screen shows whole (two lines at most)
MAX_VERDICT = 40  # characters of one verdict: two big lines, on a portrait Pi screen too
RANK_KEYS = tuple(f"rank_{n}" for n in range(1, 6))
KO_RANK_TEXTS = tuple(KO[key] for key in RANK_KEYS)  # the seed's own words
SCORE_LINE_FIELDS = {"gender": "여자", "score": 3.14, "stars": "★★★☆☆"}
TEMPLATES = {"score_line": (SCORE_LINE_FIELDS, "{gender}, {score:.2f} and {stars}"),
             "takeaway_note": ({"minutes": 10}, "{minutes}")}  # what each template may use
# Not the visitor's: under the camera message, for the operator who walks up to a dark booth.
CAMERA_LOST_DETAIL = "camera unavailable, reconnecting"
STAR, NO_STAR = "★", "☆"  # rank as stars: in Korean "1등급" would read as the best


def problem(key: str, text: str) -> str:
    """Why `text` cannot stand for `key` ("" when it can): config's check of an override."""
    if key not in KO:
        return "no such text"
    most = MAX_VERDICT if key in RANK_KEYS else MAX_LENGTH
    if len(text) > most:
        return f"longer than {most} characters"
    if key in TEMPLATES:
        fields, names = TEMPLATES[key]
        try:
            text.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            return f"not a template of {names} ({type(exc).__name__}: {exc})"
    return ""


@dataclass(frozen=True)
class Texts:
    """The texts the booth shows: one language's set with the operator's overrides laid over it."""
    words: dict[str, str]
    language: str = "ko"

    @classmethod
    def of(cls, language: str = "ko", overrides: dict[str, str] | None = None,
           rank_texts: tuple[str, ...] = ()) -> Texts:
        words = dict(SETS[language])
        words.update({key: text for key, text in (overrides or {}).items() if text})
        if rank_texts:  # [verdict] rank_texts, the older way to word the verdicts
            words.update(zip(RANK_KEYS, rank_texts))
        return cls(words, language)

    def __getitem__(self, key: str) -> str:
        return self.words[key]

    def hint(self, face) -> str:
        """What to do now, for a `kiosk.booth.stability.FaceState` (keys follow its values)."""
        return self.words[f"hint_{face.value}"]

    def capture_failed(self, face) -> str:
        return self.words[f"failed_{face.value}"]

    @property
    def rank_texts(self) -> tuple[str, ...]:
        return tuple(self.words[key] for key in RANK_KEYS)

    def idle_steps(self, auto: bool) -> tuple[str, ...]:
        keys = ("idle_auto_step_1", "idle_auto_step_2") if auto else ("idle_step_1", "idle_step_2", "idle_step_3")
        return tuple(self.words[key] for key in keys)

    def score_line(self, gender: str, score: float, rank: int) -> str:
        return self.words["score_line"].format(gender=self.words[gender], score=score, stars=stars(rank))

    def notice(self, auto: bool, captures_saved: bool) -> str:
        """The privacy and AI line: what happens, what is kept, who decides."""
        w = self.words
        stored = w["notice_captures_stored"] if captures_saved else w["notice_nothing_stored"]
        return " · ".join((w["notice_ai"], stored, w["notice_auto"] if auto else w["notice_button"]))

    def all(self) -> list[str]:
        """Everything that may be drawn on screen, for the font's self-test."""
        return [*self.words.values(), CAMERA_LOST_DETAIL, STAR, NO_STAR]


def stars(rank: int) -> str:
    return STAR * rank + NO_STAR * (5 - rank)
