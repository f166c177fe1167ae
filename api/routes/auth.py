"""`/api/auth`: login, refresh-token rotation, logout and password change."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from activities.db import RefreshToken, crud, utcnow
from api.auth import (
    InvalidTokenError,
    TokenClaims,
    burn_password_check,
    hash_password,
    issue_and_store,
    jti_hash,
    verify_password,
)
from api.deps import CurrentUser, DbDep, SignerDep, unauthorized
from api.params import BODY_RESPONSES, LOGIN_RESPONSES
from api.schemas import (
    ChangePasswordRequest,
    ErrorDetail,
    LoginRequest,
    RefreshRequest,
    TokenPair,
)

log = logging.getLogger(__name__)

public_router = APIRouter(
    prefix="/auth", tags=["auth"], responses=LOGIN_RESPONSES | BODY_RESPONSES
)
router = APIRouter(prefix="/auth", tags=["auth"], responses=BODY_RESPONSES)


def _pair(db: DbDep, signer: SignerDep, user_id: int) -> TokenPair:
    tokens = issue_and_store(db, signer, user_id)
    return TokenPair(
        access_token=tokens.access_token, refresh_token=tokens.refresh_token
    )


def _stored_refresh(
    db: DbDep, signer: SignerDep, token: str, *, owner: int | None = None
) -> tuple[TokenClaims, RefreshToken]:
    """Verify a refresh token and find its row; 401 unless it belongs to `owner`.

    `owner` defaults to the user the token names.
    """
    try:
        claims = signer.verify(token, "refresh")
    except InvalidTokenError as err:
        raise unauthorized(str(err)) from err
    stored = crud.get_refresh_token(db, jti_hash(claims.jti))
    expected = claims.user_id if owner is None else owner
    if stored is None or stored.user_id != expected:
        raise unauthorized("unknown refresh token")
    return claims, stored


@public_router.post("/login")
def login(body: LoginRequest, db: DbDep, signer: SignerDep) -> TokenPair:
    """Exchange username and password for an access/refresh token pair."""
    user = crud.get_user_by_username(db, body.username)
    if user is None:
        burn_password_check(body.password)
        raise unauthorized("invalid username or password")
    if not verify_password(body.password, user.password_hash):
        log.info("failed login for user id %s", user.id)
        raise unauthorized("invalid username or password")
    assert user.id is not None
    return _pair(db, signer, user.id)


@public_router.post("/refresh")
def refresh(body: RefreshRequest, db: DbDep, signer: SignerDep) -> TokenPair:
    """Rotate a refresh token: it is revoked and a new pair is issued.

    Presenting a revoked refresh token means it leaked or was replayed, so every
    refresh token of that user is revoked.
    """
    claims, stored = _stored_refresh(db, signer, body.refresh_token)
    if stored.revoked_at is not None:
        log.warning("revoked refresh token reused; revoking user %s", claims.user_id)
        crud.revoke_user_refresh_tokens(db, claims.user_id)
        raise unauthorized("refresh token was revoked")
    if stored.expires_at <= utcnow() or crud.get_user(db, claims.user_id) is None:
        raise unauthorized("refresh token expired")
    crud.revoke_refresh_token(db, stored)
    return _pair(db, signer, claims.user_id)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    body: RefreshRequest, user: CurrentUser, db: DbDep, signer: SignerDep
) -> None:
    """Revoke the given refresh token of the current user."""
    _, stored = _stored_refresh(db, signer, body.refresh_token, owner=user.id)
    crud.revoke_refresh_token(db, stored)


@router.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        400: {
            "model": ErrorDetail,
            "description": "Wrong current password, or a body that cannot be parsed",
        }
    },
)
def change_password(body: ChangePasswordRequest, user: CurrentUser, db: DbDep) -> None:
    """Change the current user's password and revoke all their refresh tokens."""
    if not verify_password(body.current_password, user.password_hash):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "current password is wrong")
    assert user.id is not None
    crud.set_password_hash(db, user, hash_password(body.new_password))
    crud.revoke_user_refresh_tokens(db, user.id)
    log.info("user id %s changed their password", user.id)
