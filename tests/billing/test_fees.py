"""GOÄ fee arithmetic and the seed's amounts to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.billing import (
    SELF_PAYER_SCALE,
    STANDARD_SCALE,
    check_factor,
    default_catalogue,
    fee,
    parse_factor,
    quote,
    round_cent,
)
from spinecare.billing.catalogue import Catalogue
from spinecare.billing.fees import JUSTIFICATION_MAX_CHARS
from spinecare.errors import InputError

PV = Decimal("0.0582873")  # EUR per point, §5(1) GOÄ


def test_catalogue_points_and_ranges() -> None:
    cat = default_catalogue()
    assert cat.point_value_eur == PV
    points = {n: cat.item(n).points for n in ("1", "3", "5", "7", "8", "516", "538", "652")}
    assert points == {
        "1": 80, "3": 150, "5": 80, "7": 160, "8": 260, "516": 65, "538": 40, "652": 445
    }  # fmt: skip
    technical, medical = cat.item("538").fee_range, cat.item("652").fee_range
    assert (technical.min, technical.threshold, technical.max) == (
        1,
        Decimal("1.8"),
        Decimal("2.5"),
    )
    assert (medical.min, medical.threshold, medical.max) == (1, Decimal("2.3"), Decimal("3.5"))
    assert cat.item("516").fee_range is cat.item("538").fee_range  # both section E
    assert cat.item("1").fee_range.max == Decimal("3.5")


@pytest.mark.parametrize(
    ("region", "amounts", "total"),
    [
        ("lumbar", ["4.20", "6.82", "59.66"], "70.68"),
        ("cervical", ["6.82", "59.66"], "66.48"),
    ],
)
def test_standard_scale_reproduces_the_seed(region: str, amounts: list[str], total: str) -> None:
    q = quote(region)
    assert [str(ln.amount) for ln in q.lines] == amounts
    assert str(q.session_total) == total
    assert [ln.analog_of for ln in q.lines][-2:] == ["516", "652"]
    if region == "lumbar":
        assert q.lines[0].number == "538" and q.lines[0].analog_of is None


def test_course_total_is_n_times_session_total() -> None:
    assert quote("lumbar", 15).total == Decimal("1060.20")
    assert quote("cervical", 20).total == Decimal("1329.60")


def test_rounding_half_up_at_the_half_cent() -> None:
    # 20000 points x 2.5 x 0.0582873 EUR = 2914.365 EUR exactly: half-up gives .37
    # (banker's rounding would give .36).
    exact = 20000 * Decimal("2.5") * PV
    assert exact == Decimal("2914.365")
    assert exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("2914.36")
    assert fee(20000, Decimal("2.5"), PV) == Decimal("2914.37")
    assert round_cent(Decimal("0.125")) == Decimal("0.13")
    assert round_cent(Decimal("0.1249999")) == Decimal("0.12")


def test_rounding_is_per_item_not_per_total() -> None:
    # 538 x 1.8 = 4.1966856 -> 4.20; 516 x 1.8 = 6.8196141 -> 6.82: rounding each item gives
    # 11.02, rounding the sum (11.0162997) would give 11.02 too, but 652 x 1.85 = 47.98501...
    # shows the per-item rule: 47.99 on the invoice.
    assert fee(445, Decimal("1.85"), PV) == Decimal("47.99")


def test_factor_above_maximum_is_refused_naming_the_factor() -> None:
    cat = default_catalogue()
    with pytest.raises(InputError, match=r"factor 2\.6.*1\.0-2\.5.*538"):
        check_factor(cat.item("538"), Decimal("2.6"), "any reason")
    with pytest.raises(InputError, match=r"factor 3\.6"):
        quote("lumbar", factors={"652": "3.6"}, justifications={"652": "x"})
    with pytest.raises(InputError, match=r"factor 0\.9"):
        quote("lumbar", factors={"516": "0.9"})


def test_justification_required_above_threshold() -> None:
    with pytest.raises(InputError, match=r"justification is required"):
        quote("lumbar", factors={"652": "2.5"})
    with pytest.raises(InputError, match=r"justification"):
        quote("lumbar", factors={"538": "1.9"}, justifications={"538": "   "})
    q = quote(
        "lumbar", factors={"652": "2.5"}, justifications={"652": "erhöhter Zeitaufwand, 40 min"}
    )
    line = q.lines[-1]
    assert line.amount == Decimal("64.84")  # 25.9378485 x 2.5 = 64.84462...
    assert line.justification == "erhöhter Zeitaufwand, 40 min"
    assert line.above_threshold
    # At the threshold itself no justification is needed.
    assert quote("lumbar", factors={"652": "2.3"}).session_total == Decimal("70.68")


def test_factors_must_be_exact() -> None:
    with pytest.raises(InputError, match="float"):
        parse_factor(1.8)
    with pytest.raises(InputError, match="decimals"):
        parse_factor("1.8001")
    with pytest.raises(InputError, match="finite"):
        parse_factor("NaN")
    assert parse_factor("1,85") == Decimal("1.85")


def test_unknown_item_and_item_not_in_session() -> None:
    with pytest.raises(InputError, match="unknown GOÄ item"):
        quote("lumbar", factors={"999": "1.0"})
    with pytest.raises(InputError, match="not billed for a cervical session"):
        quote("cervical", factors={"538": "1.5"})


def test_self_payer_scale_is_about_20_percent_lower() -> None:
    for region in ("lumbar", "cervical"):
        std = quote(region, scale=STANDARD_SCALE).session_total
        low = quote(region, scale=SELF_PAYER_SCALE).session_total
        reduction = (std - low) / std
        assert Decimal("0.18") <= reduction <= Decimal("0.22"), (region, reduction)
    assert quote("lumbar", scale=SELF_PAYER_SCALE).session_total == Decimal("56.55")
    assert quote("cervical", scale=SELF_PAYER_SCALE).session_total == Decimal("53.29")
    cat = default_catalogue()
    SELF_PAYER_SCALE.validate(cat)
    STANDARD_SCALE.validate(cat)
    assert all(f >= 1 for f in SELF_PAYER_SCALE.factors.values())


def test_catalogue_refuses_float_numbers() -> None:
    data = {
        "point_value_cents": 5.82873,
        "fee_ranges": {},
        "sections": {},
        "items": [],
        "services": [],
        "session_services": {},
    }
    with pytest.raises(InputError, match="floats"):
        Catalogue.from_dict(data)


@given(
    points=st.integers(min_value=1, max_value=5000),
    milli=st.integers(min_value=1000, max_value=3500),
)
def test_fee_is_within_half_a_cent_of_the_exact_value(points: int, milli: int) -> None:
    factor = Decimal(milli) / 1000
    exact = Decimal(points) * PV * factor
    amount = fee(points, factor, PV)
    assert amount.as_tuple().exponent == -2
    assert abs(amount - exact) <= Decimal("0.005")
    assert amount >= fee(points, max(Decimal(1), factor - Decimal("0.1")), PV)


def test_a_justification_is_a_sentence_or_two_not_a_document() -> None:
    item = default_catalogue().item("652")
    ok = "x" * JUSTIFICATION_MAX_CHARS
    assert check_factor(item, Decimal("3.0"), f"  {ok}  ") == ok
    with pytest.raises(InputError, match=r"justification 652: 501 characters: at most 500"):
        check_factor(item, Decimal("3.0"), ok + "y")
