"""The SSI's own settings (prefix SMI_SSI_): where the owning services' APIs answer, the session."""
import secrets

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SSISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMI_SSI_", env_file=".env", extra="ignore")

    inventory_url: str = "http://127.0.0.1:8102"
    housekeeping_url: str = "http://127.0.0.1:8103"
    returns_url: str = "http://127.0.0.1:8104"
    # Signs session cookies. Set it in production (and the same on every instance); the default,
    # random per process, signs everybody out when the process restarts.
    session_secret: str = Field(default_factory=lambda: secrets.token_hex(32))
    session_hours: float = 8.0
    secure_cookies: bool = False  # set behind HTTPS
    page_size: int = Field(100, ge=1, le=1000)       # hubs, alerts
    api_timeout_seconds: float = 5.0
