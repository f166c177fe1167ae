"""Passwords, JWT access/refresh tokens and the first-start admin user.

Passwords are hashed with scrypt into a self-describing string
(`scrypt$n=16384,r=8,p=1$<salt>$<hash>`, base64 without padding), so the parameters
can be raised later without breaking stored hashes. Refresh tokens are JWTs whose
`jti` is stored as a SHA-256 hash and rotated on every use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import jwt

from activities.db import crud, utcnow
from api.settings import write_private_file

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import SecretStr
    from sqlmodel import Session

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD_FILE = "admin-password"
ACCESS_TOKEN_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=7)
JWT_ALGORITHM = "HS256"

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024

TokenType = Literal["access", "refresh"]


class InvalidTokenError(Exception):
    """A token is malformed, expired, of the wrong type or signed with another key."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a fresh random salt.

    Args:
        password: the clear-text password.

    Returns:
        The self-describing hash string to store.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=HASH_BYTES,
        maxmem=_MAXMEM,
    )
    params = f"n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}"
    return f"scrypt${params}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check a password against a stored hash in constant time.

    Args:
        password: the clear-text password to check.
        stored: a string produced by `hash_password`.

    Returns:
        True when the password matches; False also for malformed hashes.
    """
    try:
        scheme, params, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        values = dict(item.split("=", 1) for item in params.split(","))
        expected = _unb64(digest_b64)
        digest = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt_b64),
            n=int(values["n"]),
            r=int(values["r"]),
            p=int(values["p"]),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(digest, expected)


# Verified against when the user does not exist, so a login takes as long either way
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend the time of one password check (for unknown users)."""
    verify_password(password, _DUMMY_HASH)


def jti_hash(jti: str) -> str:
    """The SHA-256 (hex) under which a refresh token's `jti` is stored."""
    return hashlib.sha256(jti.encode()).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified token."""

    user_id: int
    type: TokenType
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedTokens:
    """An access/refresh pair as handed to the client."""

    access_token: str
    refresh_token: str
    refresh_jti: str
    refresh_expires_at: datetime


class TokenSigner:
    """Signs and verifies srec's JWTs with one HS256 key.

    Args:
        secret: the signing key (at least 32 characters, checked by the settings).
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def _claims(self, user_id: int, kind: TokenType, ttl: timedelta) -> TokenClaims:
        now = utcnow()
        return TokenClaims(
            user_id=user_id, type=kind, jti=uuid.uuid4().hex, expires_at=now + ttl
        )

    def _sign(self, claims: TokenClaims) -> str:
        payload: dict[str, Any] = {
            "sub": str(claims.user_id),
            "type": claims.type,
            "jti": claims.jti,
            "iat": utcnow(),
            "exp": claims.expires_at,
        }
        return jwt.encode(payload, self._secret, algorithm=JWT_ALGORITHM)

    def issue(self, user_id: int) -> IssuedTokens:
        """Make a new access/refresh pair for a user.

        Args:
            user_id: the user the tokens are for.

        Returns:
            Both tokens, plus the refresh token's `jti` and expiry to store.
        """
        access = self._claims(user_id, "access", ACCESS_TOKEN_TTL)
        refresh = self._claims(user_id, "refresh", REFRESH_TOKEN_TTL)
        return IssuedTokens(
            access_token=self._sign(access),
            refresh_token=self._sign(refresh),
            refresh_jti=refresh.jti,
            refresh_expires_at=refresh.expires_at,
        )

    def verify(self, token: str, expected: TokenType) -> TokenClaims:
        """Verify signature, expiry and type of a token.

        Args:
            token: the encoded JWT.
            expected: the token type the caller accepts.

        Returns:
            The token's claims.

        Raises:
            InvalidTokenError: the token is not a valid token of that type.
        """
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "sub", "jti", "type"]},
            )
            claims = TokenClaims(
                user_id=int(payload["sub"]),
                type=payload["type"],
                jti=str(payload["jti"]),
                expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as err:
            raise InvalidTokenError("invalid or expired token") from err
        if claims.type != expected:
            raise InvalidTokenError(f"not an {expected} token")
        return claims


def issue_and_store(db: Session, signer: TokenSigner, user_id: int) -> IssuedTokens:
    """Issue a token pair and record the refresh token's `jti` hash.

    Args:
        db: the database session.
        signer: the JWT signer.
        user_id: the user the tokens are for.

    Returns:
        The issued pair.
    """
    tokens = signer.issue(user_id)
    crud.add_refresh_token(
        db,
        user_id=user_id,
        jti_hash=jti_hash(tokens.refresh_jti),
        expires_at=tokens.refresh_expires_at,
    )
    return tokens


def ensure_admin(
    db: Session, data_dir: Path, password: SecretStr | None = None
) -> Path | None:
    """Create the `admin` user on first start.

    Args:
        db: the database session.
        data_dir: where a generated password is written (`admin-password`, 0600).
        password: the admin password (`SREC_ADMIN_PASSWORD`); generated if None.

    Returns:
        The path the generated password was written to, or None when the admin
        already existed or the password was given.
    """
    if crud.get_user_by_username(db, ADMIN_USERNAME) is not None:
        return None
    written: Path | None = None
    if password is None:
        clear = secrets.token_urlsafe(18)
        written = data_dir / ADMIN_PASSWORD_FILE
        write_private_file(written, clear + "\n")
    else:
        clear = password.get_secret_value()
    crud.create_user(db, username=ADMIN_USERNAME, password_hash=hash_password(clear))
    if written is not None:
        log.warning(
            "created user %r; its generated password is in %s", ADMIN_USERNAME, written
        )
    else:
        log.info("created user %r with the configured password", ADMIN_USERNAME)
    return written
