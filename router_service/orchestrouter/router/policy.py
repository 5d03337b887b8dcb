"""The threshold dial: a raw threshold, or a premium share turned into one by calibration."""

from __future__ import annotations

from orchestrouter.router.calibration import Calibration
from orchestrouter.router.model import PREMIUM, SMALL
from orchestrouter.runtime.errors import FailedPrecondition


class ThresholdPolicy:
    """ThresholdPolicy: win probability >= threshold goes to the premium tier.

    The calibration table holds win-probability quantiles on a reference prompt set (from the
    router model's metadata), so a premium share s maps to the quantile at 1 - s.
    """

    def __init__(
        self, threshold: float, premium_share: float | None = None, calibration_quantiles: tuple[float, ...] = ()
    ) -> None:
        self._calibration = (
            Calibration("router model", tuple(calibration_quantiles)) if len(calibration_quantiles) >= 2 else None
        )
        self._default_threshold = threshold if premium_share is None else self.threshold_for_share(premium_share)

    @property
    def default_threshold(self) -> float:
        return self._default_threshold

    def threshold_for_share(self, premium_share: float) -> float:
        if self._calibration is None:
            raise FailedPrecondition("the router model has no calibration table; set a threshold instead")
        return self._calibration.threshold_for_share(premium_share)

    def resolve(self, threshold: float | None, premium_share: float | None) -> float:
        if threshold is not None:
            return threshold
        if premium_share is not None:
            return self.threshold_for_share(premium_share)
        return self._default_threshold

    @staticmethod
    def tier_for(win_probability: float, threshold: float) -> str:
        return PREMIUM if win_probability >= threshold else SMALL
