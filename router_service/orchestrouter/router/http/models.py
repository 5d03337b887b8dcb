"""models: the model names the front door serves: the router itself, and each tier to pin it."""

from __future__ import annotations

from typing import Any

from orchestrouter.router.http.errors import ModelNotFound
from orchestrouter.router.model import PREMIUM, SMALL

# The router as a model: the score picks the tier.
AUTO_MODEL = "orchestrouter-auto"
OWNER = "orchestrouter"


class ModelCatalog:
    """ModelCatalog: AUTO_MODEL and each tier's model name (naming one pins that tier)."""

    def __init__(self, tier_models: dict[str, str]) -> None:
        self.tier_models = tier_models
        # A name both tiers share pins neither: the score decides between them.
        names = list(tier_models.values())
        self._pins = {model: tier for tier, model in tier_models.items() if names.count(model) == 1}

    @classmethod
    def of_tiers(cls, small_model: str, premium_model: str) -> ModelCatalog:
        return cls({SMALL: small_model, PREMIUM: premium_model})

    def pinned_tier(self, model: str | None) -> str:
        """The tier model pins, "" for the router's own choice; ModelNotFound for a name not served."""
        if model is None or model == AUTO_MODEL:
            return ""
        if model in self._pins:
            return self._pins[model]
        if model in self.tier_models.values():
            return ""
        raise ModelNotFound(
            f"the model {model!r} does not exist here; use {AUTO_MODEL} or one of: "
            + ", ".join(dict.fromkeys(self.tier_models.values()))
        )

    def listing(self) -> dict[str, Any]:
        """GET /v1/models: OpenAI's list of model objects."""
        ids = dict.fromkeys((AUTO_MODEL, *self.tier_models.values()))
        return {"object": "list", "data": [_model_object(name) for name in ids]}

    def model(self, name: str) -> dict[str, Any]:
        """GET /v1/models/{model}: one model object; ModelNotFound for a name not served."""
        self.pinned_tier(name)
        return _model_object(name)


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": OWNER}
