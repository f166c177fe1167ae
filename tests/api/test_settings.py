from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import ApiSettings

if TYPE_CHECKING:
    from pathlib import Path


def test_defaults_fill_in_from_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    settings = ApiSettings(data_dir=data_dir)
    assert data_dir.is_dir()
    assert settings.database_url == f"sqlite:///{data_dir / 'srec.db'}"
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.temporal_namespace == "default"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8080)
    assert settings.admin_password is None


def test_reads_prefixed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SREC_API_PORT", "9000")
    monkeypatch.setenv("SREC_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("SREC_ADMIN_PASSWORD", "from-the-env")
    settings = ApiSettings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.api_port == 9000
    assert settings.temporal_address == "temporal:7233"
    assert settings.admin_password == SecretStr("from-the-env")


def test_jwt_secret_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = ApiSettings(data_dir=tmp_path)
    path = tmp_path / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first.jwt_key
    assert ApiSettings(data_dir=tmp_path).jwt_key == first.jwt_key


def test_explicit_jwt_secret_writes_no_file(tmp_path: Path) -> None:
    settings = ApiSettings(data_dir=tmp_path, jwt_secret=SecretStr("k" * 40))
    assert settings.jwt_key == "k" * 40
    assert not (tmp_path / "jwt-secret").exists()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("jwt_secret", "short", "at least 32", id="short-jwt-secret"),
        pytest.param("admin_password", "short", "at least 8", id="short-admin-pw"),
        pytest.param("temporal_address", "localhost", "host:port", id="no-port"),
        pytest.param("temporal_address", "h:99999", "host:port", id="bad-port"),
        pytest.param("api_port", 0, "greater than or equal", id="port-zero"),
        pytest.param("temporal_namespace", "  ", "must not be empty", id="blank-ns"),
        pytest.param("database_url", "srec.db", "SQLAlchemy URL", id="not-a-url"),
    ],
)
def test_invalid_settings_fail_fast(
    tmp_path: Path, field: str, value: object, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        ApiSettings.model_validate({"data_dir": tmp_path, field: value})


def test_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValidationError, match="cannot be created"):
        ApiSettings(data_dir=blocker / "data")
