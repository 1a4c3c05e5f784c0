"""Ratings of units and service teams: 骏马 / 黄牛 / 蜗牛, by the thresholds of ``routing/ratings.toml``.

:class:`RatingThresholds` holds the thresholds (validated when built or loaded, errors
naming the file, field, value and what is allowed); :func:`rate` and
:func:`rating_codes` rate one row or whole columns of :func:`routing.metrics.unit_metrics`.

The figure rated is the *rating score*: the 按期结案率 (on-time closure rate),
blended with the residents' satisfaction (回访) when the unit has at least
``satisfaction.min_verdicts`` verdicts among its due cases::

    rating_score = (1 - weight) × on_time_closure_rate + weight × satisfaction_score

where ``satisfaction_score`` is the mean of each verdict's score (满意 1.0, 基本满意
0.8, 不满意 0.0 by default).  With fewer verdicts (or a weight of 0) the rating score
is the on-time closure rate itself.  The ``fast``/``slow`` thresholds on
``on_time_closure_rate`` apply to the rating score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.errors import InvalidInputError
from routing._toml import read_toml
from routing.workflow import SATISFACTION

if TYPE_CHECKING:
    import pandas as pd

RATINGS: dict[str, str] = {"fast": "骏马", "steady": "黄牛", "slow": "蜗牛", "unrated": "待评"}
"""Rating code -> Chinese label."""
DEFAULT_SCORES: dict[str, float] = {"satisfied": 1.0, "basically_satisfied": 0.8, "unsatisfied": 0.0}
"""The score of each verdict when the ratings file names none."""

_MAX_MIN_CASES = 1_000_000
_SATISFACTION_KEYS = {"weight", "min_verdicts", *SATISFACTION}


class RatingsDataError(InvalidInputError):
    """A rating-thresholds file that cannot be used (syntax, fields, ranges, consistency)."""

    code = "invalid_ratings"


# --------------------------------------------------------------------------- thresholds
# (table, key) in ratings.toml -> attribute of RatingThresholds
_RATE_FIELDS: dict[tuple[str, str], str] = {
    ("fast", "min_on_time_closure_rate"): "fast_min_on_time_closure_rate",
    ("fast", "max_rework_rate"): "fast_max_rework_rate",
    ("slow", "on_time_closure_rate_below"): "slow_on_time_closure_rate_below",
    ("slow", "rework_rate_above"): "slow_rework_rate_above",
}
_FIELD_NAMES = {attr: f"{table}.{key}" for (table, key), attr in _RATE_FIELDS.items()}


@dataclass(frozen=True, slots=True)
class RatingThresholds:
    """When a unit is 骏马, 蜗牛 or 待评 (see ``routing/ratings.toml`` for the rules).

    Validated on construction: rates, the satisfaction weight and scores in ``0..1``,
    ``min_cases`` and ``min_verdicts`` from 1, fast at least as strict as slow, and
    a satisfied verdict scoring at least a basically satisfied one, at least an
    unsatisfied one.  Errors name ``source``, the field as written in the TOML file,
    the value and what is allowed.

    Examples
    --------
    >>> t = RatingThresholds(10, 0.9, 0.05, 0.7, 0.2)
    >>> t.fast_min_on_time_closure_rate
    0.9
    >>> RatingThresholds(10, 0.6, 0.05, 0.7, 0.2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    routing.ratings.RatingsDataError: <RatingThresholds>: field 'fast.min_on_time_closure_rate': 0.6 is ...
    """

    min_cases: int
    fast_min_on_time_closure_rate: float
    fast_max_rework_rate: float
    slow_on_time_closure_rate_below: float
    slow_rework_rate_above: float
    source: str = "<RatingThresholds>"
    satisfaction_weight: float = 0.0
    min_verdicts: int = 5
    satisfaction_scores: tuple[tuple[str, float], ...] = tuple(DEFAULT_SCORES.items())

    @property
    def scores(self) -> dict[str, float]:
        """The score of each verdict (satisfied, basically_satisfied, unsatisfied)."""
        return dict(self.satisfaction_scores)

    def __post_init__(self) -> None:
        value = self.min_cases
        if not _is_count(value):
            raise self._error("min_cases", value, f"an integer from 1 to {_MAX_MIN_CASES}")
        for attr in _FIELD_NAMES:
            rate = getattr(self, attr)
            if not _is_rate(rate):
                raise self._error(_FIELD_NAMES[attr], rate, "a number from 0 to 1")
        if self.fast_min_on_time_closure_rate < self.slow_on_time_closure_rate_below:
            raise self._error(
                "fast.min_on_time_closure_rate",
                self.fast_min_on_time_closure_rate,
                "at least slow.on_time_closure_rate_below "
                f"({self.slow_on_time_closure_rate_below}): fast (骏马) must be at least as strict as "
                "slow (蜗牛)",
            )
        if self.fast_max_rework_rate > self.slow_rework_rate_above:
            raise self._error(
                "fast.max_rework_rate",
                self.fast_max_rework_rate,
                f"at most slow.rework_rate_above ({self.slow_rework_rate_above}): fast (骏马) must be "
                "at least as strict as slow (蜗牛)",
            )
        self._check_satisfaction()

    def _check_satisfaction(self) -> None:
        if not _is_rate(self.satisfaction_weight):
            raise self._error("satisfaction.weight", self.satisfaction_weight, "a number from 0 to 1")
        count = self.min_verdicts
        if not _is_count(count):
            raise self._error("satisfaction.min_verdicts", count, f"an integer from 1 to {_MAX_MIN_CASES}")
        scores = self.scores
        if set(scores) != set(SATISFACTION):
            raise self._error("satisfaction", sorted(scores), f"scores for {', '.join(SATISFACTION)}")
        for name, score in scores.items():
            if not _is_rate(score):
                raise self._error(f"satisfaction.{name}", score, "a number from 0 to 1")
        if not scores["satisfied"] >= scores["basically_satisfied"] >= scores["unsatisfied"]:
            raise self._error(
                "satisfaction.basically_satisfied",
                scores["basically_satisfied"],
                f"between unsatisfied ({scores['unsatisfied']}) and satisfied ({scores['satisfied']})",
            )

    def _error(self, field: str, value: object, allowed: str) -> RatingsDataError:
        return RatingsDataError(
            f"{self.source}: field {field!r}: {value!r} is not allowed; allowed: {allowed}",
            file=self.source,
            field=field,
            value=repr(value),
            allowed=allowed,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> RatingThresholds:
        """Build thresholds from the parsed TOML structure (see ``ratings.toml``).

        Examples
        --------
        >>> RatingThresholds.from_dict({
        ...     "min_cases": 5,
        ...     "fast": {"min_on_time_closure_rate": 0.95, "max_rework_rate": 0.02},
        ...     "slow": {"on_time_closure_rate_below": 0.8, "rework_rate_above": 0.1},
        ... }).min_cases
        5
        """
        top = {"schema", "min_cases", "fast", "slow", "satisfaction"}
        _check_keys(data, top, {"min_cases", "fast", "slow"}, source, "")
        schema = data.get("schema", 1)
        if schema != 1 or isinstance(schema, bool):
            raise RatingsDataError(
                f"{source}: field 'schema': {schema!r} is not supported; allowed: 1",
                file=source,
                field="schema",
                value=repr(schema),
                allowed=[1],
            )
        values: dict[str, Any] = {}
        for table in ("fast", "slow"):
            keys = {key for (name, key) in _RATE_FIELDS if name == table}
            _check_keys(data[table], keys, keys, source, table)
        for (table, key), attr in _RATE_FIELDS.items():
            values[attr] = data[table][key]
        if "satisfaction" in data:
            table = data["satisfaction"]
            _check_keys(table, _SATISFACTION_KEYS, _SATISFACTION_KEYS, source, "satisfaction")
            values["satisfaction_weight"] = table["weight"]
            values["min_verdicts"] = table["min_verdicts"]
            values["satisfaction_scores"] = tuple((name, table[name]) for name in SATISFACTION)
        return cls(min_cases=data["min_cases"], source=source, **values)

    def to_dict(self) -> dict[str, Any]:
        """The TOML structure of these thresholds (inverse of :meth:`from_dict`).

        Examples
        --------
        >>> default_thresholds().to_dict()["slow"]
        {'on_time_closure_rate_below': 0.7, 'rework_rate_above': 0.2}
        """
        out: dict[str, Any] = {"schema": 1, "min_cases": self.min_cases, "fast": {}, "slow": {}}
        for (table, key), attr in _RATE_FIELDS.items():
            out[table][key] = getattr(self, attr)
        out["satisfaction"] = {
            "weight": self.satisfaction_weight, "min_verdicts": self.min_verdicts, **self.scores,
        }  # fmt: skip
        return out


def _check_keys(table: object, allowed: set[str], required: set[str], source: str, where: str) -> None:
    prefix = f"{where}." if where else ""
    if not isinstance(table, dict):
        raise RatingsDataError(
            f"{source}: field {where!r}: {table!r} is not allowed; allowed: a table with "
            f"{', '.join(sorted(allowed))}",
            file=source,
            field=where,
            value=repr(table),
            allowed=sorted(allowed),
        )
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RatingsDataError(
            f"{source}: unknown field {prefix + unknown[0]!r}; allowed: "
            f"{', '.join(prefix + key for key in sorted(allowed))}",
            file=source,
            field=prefix + unknown[0],
            allowed=sorted(allowed),
        )
    missing = sorted(required - set(table))
    if missing:
        raise RatingsDataError(
            f"{source}: field {prefix + missing[0]!r} is missing; required: "
            f"{', '.join(prefix + key for key in sorted(required))}",
            file=source,
            field=prefix + missing[0],
            allowed=sorted(required),
        )


def load_thresholds(path: str | Path | None = None) -> RatingThresholds:
    """Load and validate a thresholds file; ``None`` loads the packaged ``routing/ratings.toml``.

    Raises :class:`RatingsDataError` naming the file, the field, the bad value and
    what is allowed (and the line for a TOML syntax error).

    Examples
    --------
    >>> t = load_thresholds()
    >>> t.min_cases, t.fast_min_on_time_closure_rate, t.slow_rework_rate_above, t.source
    (10, 0.9, 0.2, 'routing/ratings.toml')
    """
    data, source = read_toml(path, resource="ratings.toml", error=RatingsDataError, what="ratings")
    return RatingThresholds.from_dict(data, source=source)


@lru_cache(maxsize=1)
def default_thresholds() -> RatingThresholds:
    """The packaged thresholds, loaded once.

    Examples
    --------
    >>> default_thresholds() is default_thresholds()
    True
    """
    return load_thresholds()


# --------------------------------------------------------------------------- rating
def rate(row: Mapping[str, Any] | pd.Series, thresholds: RatingThresholds | None = None) -> tuple[str, str]:
    """The rating of one row of :func:`routing.metrics.unit_metrics`: ``(code, Chinese label)``.

    ``row`` needs ``due``, ``on_time_closure_rate`` and ``rework_rate``; with
    ``satisfaction_score`` and ``rated`` the satisfaction weighs in (see the module
    docstring).  A ``NaN`` rework rate (nothing handled) counts as no rework.
    ``thresholds`` defaults to the packaged ``ratings.toml``.

    Examples
    --------
    >>> rate({"due": 40, "on_time_closure_rate": 0.95, "rework_rate": 0.0})
    ('fast', '骏马')
    >>> rate({"due": 40, "on_time_closure_rate": 0.80, "rework_rate": 0.1})
    ('steady', '黄牛')
    >>> rate({"due": 40, "on_time_closure_rate": 0.95, "rework_rate": 0.25})
    ('slow', '蜗牛')
    >>> rate({"due": 3, "on_time_closure_rate": 1.0, "rework_rate": 0.0})
    ('unrated', '待评')
    >>> rate({"due": 40, "on_time_closure_rate": 0.95, "rework_rate": 0.0, "rated": 20,
    ...       "satisfaction_score": 0.2})  # unsatisfied residents pull 骏马 down to 黄牛
    ('steady', '黄牛')
    """
    limits = thresholds or default_thresholds()
    values: dict[str, float] = {}
    for key in ("due", "on_time_closure_rate", "rework_rate", "satisfaction_score", "rated"):
        try:
            raw = row[key]
        except KeyError:
            if key in ("satisfaction_score", "rated"):
                values[key] = math.nan if key == "satisfaction_score" else 0.0
                continue
            raise InvalidInputError(
                f"row has no {key!r}; required: due, on_time_closure_rate, rework_rate",
                field=key,
                allowed=["due", "on_time_closure_rate", "rework_rate"],
            ) from None
        try:
            values[key] = float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"row[{key!r}]={raw!r} is not a number; allowed: a number (NaN for an empty rate)",
                field=key,
                value=repr(raw),
            ) from None
    score = rating_scores(
        np.array([values["on_time_closure_rate"]]),
        np.array([values["satisfaction_score"]]),
        np.array([values["rated"]]),
        limits,
    )
    code = str(rating_codes(np.array([values["due"]]), score, np.array([values["rework_rate"]]), limits)[0])
    return code, RATINGS[code]


def rating_scores(
    on_time: np.ndarray, satisfaction: np.ndarray, rated: np.ndarray, limits: RatingThresholds
) -> np.ndarray:
    """The rating score of each unit: the on-time closure rate, blended with the satisfaction
    score where a unit has at least ``min_verdicts`` verdicts (see the module docstring).

    Examples
    --------
    >>> limits = RatingThresholds(10, 0.9, 0.05, 0.7, 0.2, satisfaction_weight=0.25, min_verdicts=2)
    >>> rating_scores(np.array([0.8, 0.8]), np.array([0.4, 0.4]), np.array([5, 1]), limits).tolist()
    [0.7000000000000001, 0.8]
    """
    weighed = (rated >= limits.min_verdicts) & ~np.isnan(satisfaction) & (limits.satisfaction_weight > 0)
    weight = limits.satisfaction_weight
    blended = (1 - weight) * on_time + weight * np.where(np.isnan(satisfaction), 0.0, satisfaction)
    return np.where(weighed, blended, on_time)


def rating_codes(
    due: np.ndarray, score: np.ndarray, rework: np.ndarray, limits: RatingThresholds
) -> np.ndarray:
    """Vectorized ratings from the rating scores; the one implementation behind :func:`rate` and
    :func:`routing.metrics.unit_metrics`."""
    rework = np.where(np.isnan(rework), 0.0, rework)
    with np.errstate(invalid="ignore"):
        unrated = ~(due >= limits.min_cases)  # NaN due is unrated too
        fast = (score >= limits.fast_min_on_time_closure_rate) & (rework <= limits.fast_max_rework_rate)
        slow = (score < limits.slow_on_time_closure_rate_below) | (rework > limits.slow_rework_rate_above)
    return np.select([unrated, fast, slow], ["unrated", "fast", "slow"], default="steady")


def _is_rate(value: object) -> bool:
    return bool(
        not isinstance(value, bool)
        and isinstance(value, int | float | np.integer | np.floating)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def _is_count(value: object) -> bool:
    return bool(
        not isinstance(value, bool) and isinstance(value, int | np.integer) and 1 <= value <= _MAX_MIN_CASES
    )
