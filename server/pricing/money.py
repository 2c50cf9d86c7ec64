"""Money as integer micro-units (1e-6 of the display currency); no floats anywhere.

Prices are integer micro-units per million tokens; group multipliers are integer parts per
million (1.0 = 1_000_000). A charge is computed exactly and rounded once, half up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICRO = 1_000_000
PPM = 1_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are per million tokens
MAX_MICRO = 10**15  # a billion currency units: far below MongoDB's int64 limit


class MoneyError(ValueError):
    """A money amount could not be parsed."""


def to_micro(value: object) -> int:
    """Parse a display amount ("12.5", 12, "0.000001") into micro-units exactly."""
    if isinstance(value, bool) or value is None:
        raise MoneyError("amount must be a number")
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that round-trips, not the binary value
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise MoneyError("amount must be finite")
    micro = amount * MICRO
    if abs(micro) > MAX_MICRO:
        raise MoneyError("amount is too large")
    if micro != micro.to_integral_value():
        raise MoneyError("at most 6 decimal places")
    return int(micro)


def ratio_to_ppm(value: object) -> int:
    """Parse a multiplier such as "1.25" into parts per million."""
    return to_micro(value)


def format_micro(micro: int) -> str:
    """Micro-units as a plain decimal string ("1.5", "-0.000001")."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    text = f"{whole}.{frac:06d}".rstrip("0").rstrip(".")
    return sign + text


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def to_decimal(micro: int) -> Decimal:
    """Micro-units as a Decimal, for display only."""
    return (Decimal(micro) / MICRO).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
