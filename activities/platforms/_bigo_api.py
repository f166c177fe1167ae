"""Bigo's answers and its web token, for `activities.platforms.bigo`.

The token: Bigo's web player asks `sec.bigo.sg` for one before it asks the studio
API, which answers a room's `hls_src` (and HEVC) to requests that carry it. The
player's script (BigoCaptcha `getFpToken`) reads the server's time from
`/v1/webjs/t`, encrypts a small JSON payload the way CryptoJS's
`AES.encrypt(text, passphrase)` does (OpenSSL's salted format: `Salted__`, an
8-byte salt, AES-256-CBC under a key and IV derived from passphrase and salt with
MD5, EVP_BytesToKey), and sends it base64-encoded to `/v1/webjs/status`, which
answers the token. Both answers are JSONP. streamlink's Bigo plugin mints it the
same way; the test decrypts ours with streamlink's `decrypt_openssl`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import BaseModel, Field, field_validator

from activities.errors import ExtractorError

TOKEN_PASSPHRASE = b"undefinedval0x01"  # the constant in Bigo's player script
TOKEN_BUSINESS = "bigolive-video"
PROTECTION_TAG = "#EXT-X-BIGO-WEB-PROTECTION"  # segments scrambled per seed
_JSONP = re.compile(r"^\s*[\w.$]+\((?P<json>.*)\)\s*;?\s*$", re.DOTALL)


class Studio(BaseModel):
    """`data` of getInternalStudioInfo. Ids are long numbers: kept as text."""

    alive: int = 0
    room_id: str | None = Field(default=None, alias="roomId")
    site_id: str | None = Field(default=None, alias="siteId")
    nick_name: str = ""
    room_topic: str = Field(default="", alias="roomTopic")
    game_title: str = Field(default="", alias="gameTitle")
    hls_src: str | None = None
    snapshot: str | None = None
    avatar: str | None = None
    pass_room: bool = Field(default=False, alias="passRoom")

    @field_validator("room_id", "site_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @property
    def is_live(self) -> bool:
        return self.alive == 1 and self.room_id not in (None, "", "0")


class StudioReply(BaseModel):
    code: int
    msg: str = ""
    data: Studio | None = None


class _TokenTime(BaseModel):
    time: str


class _Token(BaseModel):
    token: str


class WsLink(BaseModel):
    """`data` of getWebSocketLink: a guest login for the chat."""

    uid_token: str = Field(alias="uidToken")
    user_id: str = Field(alias="userId")
    device_id: str = Field(default="", alias="deviceId")

    @field_validator("user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class WsLinkReply(BaseModel):
    code: int
    msg: str = ""
    data: WsLink | None = None


def evp_bytes_to_key(passphrase: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """OpenSSL's EVP_BytesToKey with MD5, one round: a 32-byte key and 16-byte IV."""
    derived = block = b""
    while len(derived) < 48:
        block = hashlib.md5(block + passphrase + salt).digest()
        derived += block
    return derived[:32], derived[32:48]


def encrypt_openssl(text: bytes, passphrase: bytes, salt: bytes | None = None) -> bytes:
    """`text` in OpenSSL's salted AES-256-CBC format (CryptoJS's default)."""
    salt = salt if salt is not None else os.urandom(8)
    key, iv = evp_bytes_to_key(passphrase, salt)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return b"Salted__" + salt + encryptor.update(padded) + encryptor.finalize()


def token_payload(server_time: str, dr: str) -> bytes:
    """The JSON the player encrypts: `dr` a random 32-digit hex, the server time."""
    payload = {
        "dr": dr,
        "business": TOKEN_BUSINESS,
        "scene": "",
        "at_time": server_time,
        "ver": "2.0",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def jsonp(body: str, what: str) -> str:
    """The JSON inside a JSONP answer (`callback({...});`).

    Raises:
        ExtractorError: the body is not a JSONP call.
    """
    found = _JSONP.match(body)
    if found is None:
        raise ExtractorError(f"{what}: not a JSONP answer: {body[:80]!r}")
    return found.group("json")


def token_time(body: str) -> str:
    """The server time of a `/v1/webjs/t` answer."""
    return _TokenTime.model_validate_json(jsonp(body, "bigo token time")).time


def token_of(body: str) -> str:
    """The token of a `/v1/webjs/status` answer."""
    return _Token.model_validate_json(jsonp(body, "bigo token")).token


def b64(data: bytes) -> str:
    """Standard base64 text, as the player sends the encrypted payload."""
    return base64.b64encode(data).decode()
