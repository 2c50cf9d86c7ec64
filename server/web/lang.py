"""The caller's language from ``Accept-Language`` (RFC 9110 §12.5.4): the supported language
with the highest quality wins, the earlier one on a tie; nothing supported means Chinese."""

from __future__ import annotations

from server.i18n import DEFAULT_LANG, LANGS, Lang


def accept_language(header: str | None) -> Lang:
    """``zh`` or ``en`` for a header such as ``en-US,en;q=0.9,zh;q=0.8`` (``*`` is ignored)."""
    best: tuple[float, int, Lang] | None = None  # (-quality, position, language)
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        lang: Lang = "en" if primary == "en" else "zh"
        candidate = (-quality, position, lang)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else DEFAULT_LANG
