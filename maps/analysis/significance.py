"""What "significant" means on a hot-spot map: the correction, the sides, the levels, in words.

A hot-spot map tests every area at once: 3,782 communities, or ten thousand hexagons.
Tested one by one at 95 %, about 5 % of them would be marked even if reports fell at
random.  By default the p-values are corrected with the Benjamini–Hochberg false
discovery rate (``scipy.stats.false_discovery_control``), as ArcGIS's Hot Spot
Analysis offers: of the areas marked at 95 % or higher, at most 5 % are expected to be
false alarms.  ``correction="none"`` gives the uncorrected map.  Tests are two-sided
(a hot or a cold spot), the convention planners know from ArcGIS.

:class:`Significance` carries the choice and explains it in Chinese and English for the
map legend, the GeoJSON answer and the command line alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["CORRECTIONS", "LEVELS", "Significance", "adjust"]

CORRECTIONS: dict[str, str] = {
    "fdr": "Benjamini–Hochberg false discovery rate",
    "none": "none: each area tested on its own",
}
"""The corrections for testing many areas at once, by name."""
LEVELS: tuple[tuple[str, float], ...] = (("99%", 0.01), ("95%", 0.05), ("90%", 0.10))
"""Confidence levels and the (adjusted) two-sided p-value at or below which an area reaches them."""


def adjust(p: Any, correction: str) -> NDArray[np.float64]:
    """The p-values that decide significance: BH-adjusted (``fdr``) or as they are (``none``).

    NaN entries (areas without neighbours, never tested) stay NaN and do not count
    as tests.

    Examples
    --------
    >>> adjust([0.01, 0.04, 0.03, float("nan")], "fdr").round(3).tolist()[:3]
    [0.03, 0.04, 0.04]
    >>> adjust([0.01, 0.5], "none").tolist()
    [0.01, 0.5]
    """
    from scipy.stats import false_discovery_control

    check_correction(correction)
    values = np.asarray(p, dtype=float)
    if correction == "none":
        return values.copy()
    out = np.full(values.shape, np.nan)
    tested = np.isfinite(values)
    if tested.any():
        out[tested] = false_discovery_control(values[tested], method="bh")
    return out


def check_correction(correction: Any) -> None:
    """Raise InvalidInputError naming the allowed corrections unless ``correction`` is one."""
    if correction not in CORRECTIONS:
        raise InvalidInputError(
            f"correction {correction!r} is not allowed; allowed: {', '.join(CORRECTIONS)} "
            "(fdr: Benjamini–Hochberg false discovery rate, the default; none: uncorrected)",
            field="correction",
            value=repr(correction),
            allowed=list(CORRECTIONS),
        )


@dataclass(frozen=True, slots=True)
class Significance:
    """How a hot-spot result decided significance, explained for planners.

    Attributes
    ----------
    correction : str
        ``fdr`` or ``none`` (:data:`CORRECTIONS`).
    tests : int
        Areas tested (areas without neighbours are not).
    permutations : int
        Conditional permutations behind each p-value.

    Examples
    --------
    >>> note = Significance("fdr", 3782, 99_999)
    >>> note.to_dict()["sides"], note.to_dict()["smallest_p"]
    ('two-sided', 2e-05)
    >>> print(note.explanation_en)  # doctest: +NORMALIZE_WHITESPACE
    Two-sided tests, corrected for testing 3,782 areas at once (Benjamini–Hochberg false
    discovery rate): of the areas marked 95 % or higher, at most 5 % are expected to be false
    alarms (likewise at 90 % and 99 %).
    """

    correction: str
    tests: int
    permutations: int

    @property
    def corrected(self) -> bool:
        """Whether the p-values were corrected for testing many areas at once."""
        return self.correction == "fdr"

    @property
    def explanation_zh(self) -> str:
        """The meaning of the levels in Chinese."""
        if self.corrected:
            return (
                f"双侧检验，已按错误发现率（Benjamini–Hochberg）校正 {self.tests:,} 个区域的同时检验："
                "标为 95% 及以上的区域中，预计误报不超过 5%（90%、99% 同理）。"
            )
        return (
            f"双侧检验，未校正多重检验（每个区域单独检验）：即使报告完全随机分布，{self.tests:,} 个区域中"
            f"也可能有多达 10%（{_share(self.tests, 0.10)} 个）偶然达到 90%，5%（{_share(self.tests, 0.05)}）"
            f"达到 95%，1%（{_share(self.tests, 0.01)}）达到 99%。"
        )

    @property
    def explanation_en(self) -> str:
        """The meaning of the levels in English."""
        if self.corrected:
            return (
                f"Two-sided tests, corrected for testing {self.tests:,} areas at once (Benjamini–Hochberg "
                "false discovery rate): of the areas marked 95 % or higher, at most 5 % are expected to be "
                "false alarms (likewise at 90 % and 99 %)."
            )
        return (
            f"Two-sided tests, not corrected for multiple testing (each area tested on its own): even if "
            f"reports fell at random, up to 10 % of {self.tests:,} areas ({_share(self.tests, 0.10)}) could "
            f"reach 90 % by chance, 5 % ({_share(self.tests, 0.05)}) 95 % and 1 % "
            f"({_share(self.tests, 0.01)}) 99 %."
        )

    @property
    def smallest_p(self) -> float:
        """The smallest two-sided p-value the permutations can give."""
        return min(1.0, 2.0 / (self.permutations + 1))

    def to_dict(self) -> dict[str, Any]:
        """The description carried by GeoJSON answers and summaries."""
        decided_by = "BH-adjusted p-value (q)" if self.corrected else "p-value"
        return {
            "correction": self.correction,
            "method": CORRECTIONS[self.correction],
            "sides": "two-sided",
            "levels": {name: f"{decided_by} <= {alpha:g}" for name, alpha in LEVELS},
            "tests": self.tests,
            "permutations": self.permutations,
            "smallest_p": round(self.smallest_p, 8),
            "explanation_zh": self.explanation_zh,
            "explanation_en": self.explanation_en,
        }


def _share(tests: int, fraction: float) -> str:
    return f"{round(tests * fraction):,}"
