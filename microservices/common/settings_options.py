"""Settings of the options summaries (issue 14: Deribit option chains), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class OptionsSettingsFields(BaseSettings):
    """The options-summary declarations (bounds checked at start)."""

    # --- options summaries
    options_poll_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="poll each options venue's chain summary (Deribit BTC, ETH) this often, in "
        "seconds; 0 = off. A venue is polled only when it is collected (VENUES)",
    )
