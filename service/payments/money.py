"""Stripe's money rules, checked before Stripe is called.

Amounts are integers in the currency's minor unit, exactly as Stripe's API takes them.
No floats anywhere: display formatting uses integer division only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Presentment currencies Stripe supports for card payments (docs.stripe.com/currencies).
SUPPORTED_CURRENCIES: Final[frozenset[str]] = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xof xpf yer zar zmw
    """
)

# Stripe takes these in whole units: 500 JPY is `amount=500`.
ZERO_DECIMAL: Final[frozenset[str]] = _codes(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf isk"
)
# Three decimals in the API, but card networks only settle to two: the last digit must be 0.
THREE_DECIMAL: Final[frozenset[str]] = _codes("bhd jod kwd omr tnd")
# ISK is zero-decimal in the API but must be a multiple of 100 (a legacy of its old 2 decimals).
ISK_STEP: Final = 100

# Stripe's minimum charge amounts in minor units
# (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
# Other currencies get 1 minor unit; Stripe still rejects charges below ~0.50 USD after
# conversion, which we cannot know here without exchange rates.
MINIMUM_AMOUNTS: Final[dict[str, int]] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}
DEFAULT_MINIMUM: Final = 1
# Stripe accepts at most 8 digits for an amount.
MAXIMUM_AMOUNT: Final = 99_999_999
# Longer digit strings are rejected before int() so hostile input costs nothing.
_MAX_DIGITS: Final = 32


class MoneyError(ValueError):
    """A money rule was broken; `code` is the API error code (answered with 422)."""

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, object] = details or {}


def normalize_currency(currency: str) -> str:
    """Lower-case ISO code that Stripe supports, or MoneyError `invalid_currency`."""
    if not isinstance(currency, str):
        raise MoneyError("invalid_currency", "Currency must be a 3-letter ISO code.")
    # isascii before lower(): "\u212a" (Kelvin sign) lower-cases to an ASCII "k".
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise MoneyError(
            "invalid_currency", "Currency must be a 3-letter ISO code.", {"currency": currency}
        )
    code = currency.lower()
    if code not in SUPPORTED_CURRENCIES:
        raise MoneyError(
            "invalid_currency", f"Currency {code.upper()} is not supported.", {"currency": code}
        )
    return code


def minor_units(currency: str) -> int:
    """Decimal places of the currency's API amount: 0, 2 or 3."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def minimum_amount(currency: str) -> int:
    """Smallest amount Stripe accepts for the currency (before the divisibility rules)."""
    return MINIMUM_AMOUNTS.get(normalize_currency(currency), DEFAULT_MINIMUM)


def validate_amount(amount: int, currency: str) -> None:
    """Raise MoneyError unless Stripe would accept `amount` minor units of `currency`."""
    code = normalize_currency(currency)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError("invalid_amount", "Amount must be an integer in minor units.")
    minimum = minimum_amount(code)
    details: dict[str, object] = {"amount": amount, "currency": code}
    if amount < minimum:
        raise MoneyError(
            "amount_too_small",
            f"Amount must be at least {format_amount(minimum, code)}.",
            {**details, "minimum": minimum},
        )
    if amount > MAXIMUM_AMOUNT:
        raise MoneyError(
            "amount_too_large",
            f"Amount must be at most {MAXIMUM_AMOUNT} minor units.",
            {**details, "maximum": MAXIMUM_AMOUNT},
        )
    step = amount_step(code)
    if amount % step:
        raise MoneyError(
            "invalid_amount_for_currency",
            f"{code.upper()} amounts must be a multiple of {step} minor units.",
            {**details, "multiple_of": step},
        )


def amount_step(currency: str) -> int:
    """Amounts must be a multiple of this many minor units."""
    code = normalize_currency(currency)
    if code in THREE_DECIMAL:
        return 10
    if code == "isk":
        return ISK_STEP
    return 1


def format_amount(amount: int, currency: str) -> str:
    """Human display, exact: 1234 USD -> "12.34 USD", 500 JPY -> "500 JPY"."""
    code = normalize_currency(currency)
    places = minor_units(code)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    number = f"{whole}.{frac:0{places}d}" if places else str(whole)
    return f"{sign}{number} {code.upper()}"


def parse_amount(value: object) -> int:
    """Accept an int or a string of ASCII digits; anything else is `invalid_amount`.

    Strict on purpose: floats, "12.5", signs and whitespace hint that the caller sent
    major units or a computed value, and guessing would charge the wrong price.
    """
    if isinstance(value, bool):  # bool is an int subclass; True is not an amount
        raise MoneyError("invalid_amount", "Amount must be an integer, not a boolean.")
    if isinstance(value, int):
        if value < 0:
            raise MoneyError("invalid_amount", "Amount must not be negative.")
        return value
    if isinstance(value, str):
        if not value or not (value.isascii() and value.isdigit()):
            raise MoneyError(
                "invalid_amount", "Amount must be a whole number of minor units, digits only."
            )
        if len(value) > _MAX_DIGITS:
            raise MoneyError("amount_too_large", "Amount has too many digits.")
        return int(value)
    raise MoneyError("invalid_amount", "Amount must be an integer in minor units.")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount Stripe will accept: construction runs every rule and normalises currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        code = normalize_currency(self.currency)
        validate_amount(self.amount, code)
        object.__setattr__(self, "currency", code)  # frozen: normalise once, here

    @classmethod
    def parse(cls, amount: object, currency: str) -> Money:
        """Build from untrusted input (int or digit string)."""
        return cls(parse_amount(amount), currency)

    def __str__(self) -> str:
        return format_amount(self.amount, self.currency)
