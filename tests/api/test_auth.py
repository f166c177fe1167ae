from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from activities.db import crud, make_engine, migrate
from api.auth import (
    InvalidTokenError,
    TokenSigner,
    ensure_admin,
    hash_password,
    verify_password,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'srec.db'}")
    migrate(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_hash_is_self_describing_salted_and_verifies() -> None:
    first, second = hash_password("secret-pw"), hash_password("secret-pw")
    assert first.startswith("scrypt$n=16384,r=8,p=1$")
    assert first != second
    assert verify_password("secret-pw", first)
    assert not verify_password("secret-px", first)


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("", id="empty"),
        pytest.param("bcrypt$x$y$z", id="other-scheme"),
        pytest.param("scrypt$n=16384$AAAA$AAAA", id="missing-params"),
        pytest.param("scrypt$n=x,r=8,p=1$AAAA$AAAA", id="bad-number"),
    ],
)
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_ensure_admin_generates_password_file(db: Session, tmp_path: Path) -> None:
    path = ensure_admin(db, tmp_path)
    assert path == tmp_path / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    user = crud.get_user_by_username(db, "admin")
    assert user is not None
    assert password not in user.password_hash
    assert verify_password(password, user.password_hash)
    # the second start changes nothing
    assert ensure_admin(db, tmp_path) is None
    assert crud.count_users(db) == 1


def test_ensure_admin_uses_configured_password(db: Session, tmp_path: Path) -> None:
    assert ensure_admin(db, tmp_path, SecretStr("configured-pw")) is None
    assert not (tmp_path / "admin-password").exists()
    user = crud.get_user_by_username(db, "admin")
    assert user is not None
    assert user.password_hash != "configured-pw"
    assert verify_password("configured-pw", user.password_hash)


def test_tokens_carry_their_type() -> None:
    signer = TokenSigner("s" * 40)
    pair = signer.issue(7)
    assert signer.verify(pair.access_token, "access").user_id == 7
    assert signer.verify(pair.refresh_token, "refresh").jti == pair.refresh_jti
    with pytest.raises(InvalidTokenError):
        signer.verify(pair.access_token, "refresh")
    with pytest.raises(InvalidTokenError):
        signer.verify(pair.refresh_token, "access")
    with pytest.raises(InvalidTokenError):
        TokenSigner("o" * 40).verify(pair.access_token, "access")
