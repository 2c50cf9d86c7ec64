"""The message catalogue against the code: every message a domain error can carry to the
dashboard API is a catalogued template (no bare Chinese string is raised outside the relay's
own modules), every template has English with the same placeholders, and no entry is stale."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import server.errors as errors
from server.i18n import Text, either, t
from server.i18n_en import EN
from server.web.lang import accept_language

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("server", "admin_api") for p in sorted((ROOT / d).rglob("*.py"))]
# The relay API keeps the API document's messages (Chinese only).
RELAY_ONLY = ("server/relay/",)
CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_NAMES = {name for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, errors.RelayError)} | {"_bad"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _templates() -> dict[str, str]:
    """Every literal passed to ``t()`` in the product, with where it was first seen."""
    found: dict[str, str] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
                assert node.args and isinstance(node.args[0], ast.Constant), \
                    f"{_rel(path)}:{node.lineno}: t() takes a literal template"
                found.setdefault(node.args[0].value, f"{_rel(path)}:{node.lineno}")
    return found


def _defaults() -> set[str]:
    return {cls.default_message for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.RelayError)}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_raised_template_has_english_with_the_same_placeholders():
    used = _templates()
    assert len(used) > 100  # the walk found the catalogue's users
    missing = {tmpl: where for tmpl, where in used.items() if tmpl not in EN}
    missing.update({d: "server/errors.py" for d in _defaults() if d not in EN})
    assert not missing, f"no English for: {missing}"
    for zh, en in EN.items():
        assert en.strip() and not CJK.search(en), f"not English: {en!r}"
        assert _fields(zh) == _fields(en), f"placeholders differ: {zh!r} / {en!r}"


def test_no_catalogue_entry_is_stale():
    stale = set(EN) - set(_templates()) - _defaults()
    assert not stale, f"catalogued but never raised: {stale}"


def test_no_bare_chinese_message_reaches_the_dashboard():
    """A domain error raised with a string literal or f-string in Chinese would be Chinese for
    every caller: outside the relay's own modules each one goes through ``t()``."""
    bare = []
    for path in SOURCES:
        if _rel(path).startswith(RELAY_ONLY):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in ERROR_NAMES:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "message")]:
                text = ast.unparse(arg) if isinstance(arg, ast.JoinedStr) else \
                    arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ""
                if CJK.search(text):
                    bare.append(f"{_rel(path)}:{node.lineno}: {text[:60]}")
    assert not bare, "wrap these in t():\n" + "\n".join(bare)


def test_rendering():
    text = t("{name} 必须在 {minimum} 到 {maximum} 之间", name="count", minimum=1, maximum=9)
    assert text.render("zh") == "count 必须在 1 到 9 之间" == str(text)
    assert text.render("en") == "count must be between 1 and 9"
    assert text.render("fr") == "count 必须在 1 到 9 之间"  # unknown languages get the default
    choices = t("protocol 必须是 {choices}", choices=either(["anthropic", "openai"]))
    assert choices.render("zh") == "protocol 必须是 anthropic 或 openai"
    assert choices.render("en") == "protocol must be anthropic or openai"
    braces = t('model_map 必须是对象(最多 200 项),例如 {"claude-x": "claude-y"}')
    assert braces.render("en").endswith('e.g. {"claude-x": "claude-y"}')  # no params: no formatting
    uncatalogued = Text("上游 529")
    assert uncatalogued.render("en") == "上游 529"


def test_errors_keep_their_chinese_message_and_say_it_in_english_on_request():
    err = errors.Conflict(t("该邮箱已被注册"), field="email")
    assert err.message == "该邮箱已被注册" == str(err)
    assert err.localized("en") == "This email is already registered"
    default = errors.InsufficientBalance()
    assert default.message == "账户余额不足,请充值"
    assert default.localized("en") == "Insufficient balance, please recharge"
    plain = errors.BadRequest("rules[0].action: one of pass, retry")
    assert plain.localized("en") == plain.localized("zh") == "rules[0].action: one of pass, retry"


@pytest.mark.parametrize("header, lang", [
    (None, "zh"), ("", "zh"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("EN-gb", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en;q=0.5, zh;q=0.6", "zh"), ("fr, de;q=0.9, en;q=0.1", "en"),
    ("en;q=0, zh;q=0.1", "zh"), ("en;q=0", "zh"), ("en;q=bogus, zh;q=0.2", "zh"), ("*", "zh"),
    ("zh-TW;q=0.8, en-US;q=0.8", "zh"),  # a tie: the first listed
])
def test_accept_language(header, lang):
    assert accept_language(header) == lang
