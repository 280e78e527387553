"""The settings every source has, whatever its system: timeouts, retries, rate limits, its endpoints.

A connector subclasses :class:`SourceSettings` with its own fields. They sit at the bottom of hub's layers, beside
the values and the model, because the HTTP client and the configuration read them as much as connectors do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt


class RateLimit(BaseModel):
    """Requests per second towards one source, with a burst allowance."""

    model_config = ConfigDict(extra="forbid")

    per_second: PositiveFloat = Field(description="Sustained requests per second.")
    burst: PositiveInt = Field(1, description="Requests allowed at once before the rate applies.")


class RetryPolicy(BaseModel):
    """How transient failures (network, 429, 5xx) are retried."""

    model_config = ConfigDict(extra="forbid")

    attempts: PositiveInt = Field(5, description="Tries in all, the first included.")
    backoff: PositiveFloat = Field(0.5, description="First wait in seconds; doubles each time, with jitter.")
    max_backoff: PositiveFloat = Field(30.0, description="Longest wait between two tries, in seconds.")


class InboundSettings(BaseModel):
    """Where ``hub daemon`` serves the endpoints this source's system calls, and what it takes."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, pattern=r"^(/[\w.~-]+)*/?$", description=(
        "URL path the endpoints live under, e.g. /yandex; the source's name (/<source>) when omitted, "
        "/ to serve them at the root."))
    max_body: PositiveInt = Field(1_048_576, description=(
        "Largest request body in bytes; a larger one is answered 413, and its first max_body bytes kept when "
        "the caller's credentials held (checked before the body is read, where the system's protocol allows)."))
    unverified_keep: int = Field(4096, ge=0, description=(
        "Bytes kept of a too large body whose sender could not be verified before it was read (a body signed "
        "as a whole): enough to see what it was, too little to fill the disk."))
    unverified_days: PositiveInt = Field(7, description=(
        "Days such unverified bodies are kept; older ones go as new ones arrive."))
    auth_failures: PositiveInt = Field(10, description=(
        "Failed credential checks one client may make in a minute; beyond them it is answered 429 until the "
        "minute is over, its credentials not checked at all."))


class SourceSettings(BaseModel):
    """Settings every source has; a connector subclasses this with its own fields."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Connector type, as registered in the hub.connectors entry-point group.")
    timeout: PositiveFloat = Field(30.0, description="Seconds before one HTTP call is abandoned.")
    rate_limit: RateLimit | None = Field(None, description="Requests per second towards this source.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy for transient failures.")
    write_concurrency: int = Field(1, ge=1, le=16, description=(
        "Records written to this source at once (orders into 1C: 4 keeps a slow 1C busy); 1 writes one by one."))
    inbound: InboundSettings = Field(default_factory=InboundSettings, description=(
        "The daemon's endpoints for this source, for connectors that have them (pushed orders, webhooks)."))
