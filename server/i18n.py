"""Messages a person reads, in the language they asked for.

Services raise domain errors carrying a ``Text``: the Chinese template (the message the API
document and the relay have always used, so it doubles as the catalogue key, gettext-style)
and its parameters. Nothing here knows HTTP: the web layer picks the language from the
request and calls ``render``. The English templates live in ``server.i18n_en``; a test walks
every template raised in ``server/`` and ``admin_api/`` and checks each has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"


@dataclass(frozen=True)
class Text:
    """A catalogued message: its zh template (the key) and the values of its placeholders."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str = DEFAULT_LANG) -> str:
        """The message in ``lang`` (zh when ``lang`` has no template for it)."""
        template = self.template
        if lang == "en":
            from server.i18n_en import EN  # the catalogue, loaded on first English render

            template = EN.get(self.template, self.template)
        if not self.params:
            return template
        values = {k: v.render(lang) if isinstance(v, (Text, Either)) else v for k, v in self.params.items()}
        return template.format(**values)

    def __str__(self) -> str:
        return self.render(DEFAULT_LANG)


@dataclass(frozen=True)
class Either:
    """A list of alternatives as a parameter: "a 或 b" / "a or b"."""

    items: tuple[str, ...]

    def render(self, lang: str = DEFAULT_LANG) -> str:
        return (" or " if lang == "en" else " 或 ").join(self.items)


def t(template: str, **params: Any) -> Text:
    """A message by its zh template (``str.format`` placeholders filled from ``params``)."""
    return Text(template, params)


def either(items: Iterable[str]) -> Either:
    return Either(tuple(items))
