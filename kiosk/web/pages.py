"""The web pages: server-rendered HTML, small enough for a phone on the booth's own Wi-Fi, in Korean
and English. No script except the browser's own file picker; no external resources."""

from __future__ import annotations

import html

from .. import texts

WORDS = {
    "ko": {"title": "얼굴 평가 부스", "choose": "사진을 고르거나 찍으세요", "send": "평가하기",
           "privacy": "사진은 저장되지 않아요. 카메라와 AI가 성별과 점수를 추정합니다.",
           "again": "다른 사진으로 해 보기", "no_face": "얼굴을 찾지 못했어요. 정면 사진으로 다시 해 보세요.",
           "error": "이 사진은 평가할 수 없어요", "busy": "지금은 사람이 많아요. 잠시 후 다시 해 보세요.",
           "too_large": "사진이 너무 커요", "missing": "사진을 고르지 않았어요", "score": "점수",
           "not_found": "없는 페이지예요", "card": "내 결과 카드", "download": "사진 받기 (JPEG)",
           "delete": "지금 삭제하기",
           "card_note": "이 카드는 부스의 메모리에만 있고 {minutes}분 뒤 사라져요. 어디에도 저장되지 않아요.",
           "card_gone": "이 카드는 없어요. 시간이 지났거나 삭제됐어요.",
           "card_deleted": "삭제했어요. 부스에 남은 것은 없어요."},
    "en": {"title": "Face-scoring booth", "choose": "Choose or take a photo", "send": "Score it",
           "privacy": "Your photo is not stored. A camera and an AI estimate gender and a score.",
           "again": "Try another photo", "no_face": "No face found. Try a photo that faces the camera.",
           "error": "This photo cannot be scored", "busy": "Busy right now. Please try again in a moment.",
           "too_large": "The photo is too large", "missing": "No photo was chosen", "score": "score",
           "not_found": "No such page", "card": "Your result card", "download": "Download (JPEG)",
           "delete": "Delete now",
           "card_note": "This card lives only in the booth's memory and is gone in {minutes} min. "
                        "It is never saved anywhere.",
           "card_gone": "This card is gone: its time ran out, or it was deleted.",
           "card_deleted": "Deleted. Nothing of it is left on the booth."},
}
GENDER_WORDS = {lang: {g: words[g] for g in ("man", "woman", "unsure")} for lang, words in texts.SETS.items()}

STYLE = """body{font-family:sans-serif;margin:0 auto;max-width:32rem;padding:1rem;background:#14181f;color:#eee}
h1{color:#ffd750;font-size:1.6rem}p.small{color:#aaa;font-size:.9rem}img{max-width:100%;border-radius:.4rem}
.verdict{color:#ffd750;font-size:1.5rem;font-weight:bold}button,input{font-size:1.1rem;margin:.5rem 0}
a{color:#9cf}nav a{margin-right:1rem}"""


def language(query: dict, accept_language: str) -> str:
    """?lang=en|ko wins; otherwise the browser's first choice, Korean by default (the booth's)."""
    chosen = query.get("lang") or accept_language[:2].lower()
    return chosen if chosen in WORDS else "ko"


def document(lang: str, title: str, body: str, home: str = "/", style: str = STYLE) -> str:
    """A whole page: `title` as heading, `body`, and a link to `home` in the other language."""
    other = "en" if lang == "ko" else "ko"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
            f'<nav><a href="{home}?lang={other}">{"English" if other == "en" else "한국어"}</a></nav>'
            f"<h1>{html.escape(title)}</h1>{body}</body></html>")


def _page(lang: str, body: str, here: str = "/", privacy: str = "privacy") -> str:
    """A visitor's page around `body`; the language link leads to `here` in the other language."""
    w = WORDS[lang]
    tail = f'<p class="small">{html.escape(texts.SETS[lang]["just_for_fun"])}</p>'
    if privacy:
        tail += f'<p class="small">{html.escape(w[privacy])}</p>'
    return document(lang, w["title"], body + tail, home=here)


def upload_page(lang: str) -> str:
    w = WORDS[lang]
    return _page(lang, f'<form method="post" action="/score?lang={lang}" enctype="multipart/form-data">'
                       f'<label>{html.escape(w["choose"])}<br>'
                       f'<input type="file" name="photo" accept="image/*" capture="user" required></label><br>'
                       f'<button type="submit">{html.escape(w["send"])}</button></form>')


def result_page(lang: str, record: dict, picture_jpeg_b64: str | None) -> str:
    w = WORDS[lang]
    parts = []
    if picture_jpeg_b64:
        parts.append(f'<img id="photo" alt="" src="data:image/jpeg;base64,{picture_jpeg_b64}">')
    if record["status"] == "ok":
        gender = GENDER_WORDS[lang].get(record["gender"], record["gender"])
        parts.append(f'<p class="verdict">{html.escape(record["text"])}</p>'
                     f'<p>{html.escape(gender)} · {w["score"]} {record["score"]:.2f} / 5 · '
                     f'{html.escape(texts.stars(record["rank"]))}</p>')
    else:
        parts.append(f'<p class="verdict">{html.escape(w["no_face"])}</p>')
    parts.append(f'<p><a href="/?lang={lang}">{html.escape(w["again"])}</a></p>')
    return _page(lang, "".join(parts))


def card_page(lang: str, here: str, verdict, minutes: int) -> str:
    """A take-home card: the picture, the verdict, Download and Delete now (a POST: no link or
    prefetch deletes it)."""
    w = WORDS[lang]
    gender = GENDER_WORDS[lang].get(verdict.gender, verdict.gender)
    return _page(lang, f'<h2>{html.escape(w["card"])}</h2><img id="card" alt="" src="{here}/faceeva.jpg">'
                       f'<p class="verdict">{html.escape(verdict.text)}</p>'
                       f'<p>{html.escape(gender)} · {w["score"]} {verdict.score:.2f} / 5 · '
                       f'{html.escape(texts.stars(verdict.rank))}</p>'
                       f'<p><a id="download" href="{here}/faceeva.jpg?download=1" download="faceeva.jpg">'
                       f'{html.escape(w["download"])}</a></p>'
                       f'<form method="post" action="{here}/delete?lang={lang}">'
                       f'<button id="delete" type="submit">{html.escape(w["delete"])}</button></form>'
                       f'<p class="small">{html.escape(w["card_note"].format(minutes=minutes))}</p>',
                 here, privacy="")


def problem_page(lang: str, title_key: str, detail: str = "", again: bool = True) -> str:
    """A short page saying what went wrong (`again`: with a link to the upload page)."""
    w = WORDS[lang]
    body = f'<p class="verdict">{html.escape(w[title_key])}</p>'
    if detail:
        body += f"<p>{html.escape(detail)}</p>"
    if again:
        body += f'<p><a href="/?lang={lang}">{html.escape(w["again"])}</a></p>'
    return _page(lang, body)
