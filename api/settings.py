"""Settings of the API process, read from `SREC_*` variables, validated at start."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.host_map import parse_host_map

log = logging.getLogger(__name__)

JWT_SECRET_FILE = "jwt-secret"
# HS256 keys shorter than the hash output are brute-forceable (RFC 7518 §3.2)
MIN_JWT_SECRET_LENGTH = 32
MIN_PASSWORD_LENGTH = 8


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by the owner only (mode 0600).

    Args:
        path: the file to create or replace.
        text: its content.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    # O_CREAT's mode does not apply to a file that already existed
    path.chmod(0o600)


class ApiSettings(BaseSettings):
    """Configuration of `srec api`.

    Validation creates `data_dir`, fills in the database URL and loads (or generates
    once) the JWT secret, so a bad configuration fails before the server starts.
    """

    model_config = SettingsConfigDict(env_prefix="SREC_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"), description="Directory for the DB and secrets"
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/srec.db"
    )
    temporal_address: str = Field(
        default="127.0.0.1:7233", description="Temporal frontend host:port"
    )
    temporal_namespace: str = Field(default="default", description="Temporal namespace")
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key; generated once into <data_dir>/jwt-secret if unset",
    )
    admin_password: SecretStr | None = Field(
        default=None, description="Password of the `admin` user created on first start"
    )
    recordings_dir: Path | None = Field(
        default=None,
        description="The worker's recordings root (default <data_dir>/recordings): "
        "pipeline output folders must stay inside it",
    )
    min_free_space_gib: float = Field(
        default=5.0,
        ge=0,
        le=1_000_000,
        description="Free space (GiB) below which `GET /api/system` and the "
        "dashboard warn about a recording output root's disk",
    )
    config_reload_rate: float = Field(
        default=50.0,
        gt=0,
        le=10_000,
        description="Workflows told of a configuration change per second at most: "
        "a global change reaches every streamer spread over time, not at once",
    )
    api_host: str = Field(default="127.0.0.1", description="Interface to listen on")
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on")
    host_map: str = Field(
        default="", description="Tests only: host=ip:port,… (activities.host_map)"
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve GET /metrics to anyone (a private network); otherwise "
        "it takes SREC_METRICS_TOKEN or a user's access token",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A static bearer token for Prometheus to scrape GET /metrics "
        "with (32+ characters)",
    )

    @field_validator("host_map")
    @classmethod
    def _check_host_map(cls, value: str) -> str:
        parse_host_map(value)
        return value

    @field_validator("temporal_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        value = value.strip()
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be host:port, got {value!r}")
        return value

    @field_validator("temporal_namespace", "api_host")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_LENGTH} characters long"
            )
        return value

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_LENGTH} characters long"
            )
        return value

    @field_validator("admin_password")
    @classmethod
    def _check_admin_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
        return value

    @model_validator(mode="after")
    def _prepare(self) -> ApiSettings:
        self.data_dir = self.data_dir.expanduser().resolve()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            msg = f"data_dir {self.data_dir} cannot be created: {err}"
            raise ValueError(msg) from err
        self.database_url = self.database_url.strip()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'srec.db'}"
        elif "://" not in self.database_url:
            raise ValueError("database_url must be a SQLAlchemy URL (scheme://...)")
        if self.jwt_secret is None:
            self.jwt_secret = SecretStr(_load_or_create_jwt_secret(self.data_dir))
        if self.recordings_dir is None:
            self.recordings_dir = self.data_dir / "recordings"
        self.recordings_dir = self.recordings_dir.expanduser().resolve()
        return self

    @property
    def recordings_path(self) -> Path:
        """The recordings root (always set after validation)."""
        assert self.recordings_dir is not None
        return self.recordings_dir

    @property
    def jwt_key(self) -> str:
        """The JWT signing key (always set after validation)."""
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()


def _load_or_create_jwt_secret(data_dir: Path) -> str:
    path = data_dir / JWT_SECRET_FILE
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < MIN_JWT_SECRET_LENGTH:
            raise ValueError(f"{path} holds a key shorter than {MIN_JWT_SECRET_LENGTH}")
        return secret
    secret = secrets.token_urlsafe(48)
    write_private_file(path, secret)
    log.info("generated a JWT secret in %s", path)
    return secret
