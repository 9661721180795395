"""Check-digit validation for Norwegian identity and organisation numbers (pure functions)."""

from __future__ import annotations

_FNR_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ORG = (3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(digits: list[int], weights: tuple[int, ...]) -> int | None:
    """The mod-11 check digit for ``digits``, or None when no valid digit exists (remainder 1)."""
    check = 11 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_national_id(number: str) -> bool:
    """Whether 11 digits are a valid fødselsnummer, D-number or H-number (date and both checks).

    Synthetic test numbers (month + 80, used in Norwegian test environments) are accepted too,
    because they look exactly like real ones to a reader of the transcript.
    """
    if len(number) != 11 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    day, month = int(number[0:2]), int(number[2:4])
    if day > 40:  # D-number: day + 40
        day -= 40
    if month > 80:  # synthetic (Tenor/Skatteetaten test) numbers
        month -= 80
    elif month > 40:  # H-number: month + 40
        month -= 40
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    k1 = _mod11(digits[:9], _FNR_K1)
    if k1 is None or k1 != digits[9]:
        return False
    k2 = _mod11(digits[:10], _FNR_K2)
    return k2 is not None and k2 == digits[10]


def is_org_number(number: str) -> bool:
    """Whether 9 digits are a valid Norwegian organisation number (starts with 8 or 9, mod 11)."""
    if len(number) != 9 or not number.isdigit() or number[0] not in "89":
        return False
    check = _mod11([int(c) for c in number[:8]], _ORG)
    return check is not None and check == int(number[8])


def national_id_check_digits(first_nine: str) -> str | None:
    """The two check digits for nine digits, or None when no valid number starts so (tests)."""
    digits = [int(c) for c in first_nine]
    k1 = _mod11(digits, _FNR_K1)
    if k1 is None:
        return None
    k2 = _mod11([*digits, k1], _FNR_K2)
    return None if k2 is None else f"{k1}{k2}"


def org_check_digit(first_eight: str) -> str | None:
    """The check digit for eight digits, or None when none is valid (tests)."""
    check = _mod11([int(c) for c in first_eight], _ORG)
    return None if check is None else str(check)
