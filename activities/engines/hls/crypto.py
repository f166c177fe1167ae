"""AES-128 HLS decryption (RFC 8216 4.3.2.4): whole segments, CBC, PKCS#7 padding.

A segment's IV is the key's explicit IV, or else its media sequence number as a
16-byte big-endian integer. METHOD=NONE switches encryption off again (the playlist
parser drops such keys). SAMPLE-AES and DRM key formats encrypt inside the media and
need a licence; they are refused up front with a clear `RecorderProcessError` instead
of recording noise.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from activities.errors import RecorderProcessError

if TYPE_CHECKING:
    from activities.hls.playlist import Key

AES_128 = "AES-128"
KEY_BYTES = 16
_BLOCK_BITS = 128
# A fragmented MP4 starts with one of these boxes; an init section that does not is
# taken to be encrypted with the key in effect.
_MP4_BOXES = frozenset({b"ftyp", b"styp", b"moov", b"moof", b"sidx", b"free", b"emsg"})


class DecryptError(ValueError):
    """The data does not decrypt with this key (wrong key, or not a whole block)."""


def check_supported(key: Key | None) -> None:
    """Refuse keys this engine cannot decrypt.

    Raises:
        RecorderProcessError: SAMPLE-AES or another method, a DRM key format, or an
            AES-128 key without a URI.
    """
    if key is None:
        return
    if key.method != AES_128:
        raise RecorderProcessError(
            f"HLS encryption METHOD={key.method} (sample encryption or DRM) cannot "
            "be recorded; only AES-128 whole-segment encryption is supported"
        )
    if key.keyformat.lower() != "identity":
        raise RecorderProcessError(
            f"HLS KEYFORMAT={key.keyformat} is a DRM system; only identity keys "
            "can be recorded"
        )
    if not key.url:
        raise RecorderProcessError("an AES-128 EXT-X-KEY without a URI")
    if key.iv is not None:
        _explicit_iv(key.iv)


def iv_for(key: Key, sequence: int) -> bytes:
    """The IV of the segment with media sequence `sequence`.

    Raises:
        RecorderProcessError: the key's IV attribute is not 128 bits of hex.
    """
    if key.iv is not None:
        return _explicit_iv(key.iv)
    return (sequence % (1 << _BLOCK_BITS)).to_bytes(KEY_BYTES, "big")


def _explicit_iv(text: str) -> bytes:
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = bytes.fromhex(digits.rjust(2 * KEY_BYTES, "0"))
    except ValueError as err:
        raise RecorderProcessError(f"EXT-X-KEY IV={text} is not hexadecimal") from err
    if len(value) != KEY_BYTES:
        raise RecorderProcessError(f"EXT-X-KEY IV={text} is longer than 128 bits")
    return value


def decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-128-CBC decrypt and strip the PKCS#7 padding.

    Raises:
        DecryptError: the length is not whole blocks or the padding is wrong.
    """
    if len(data) % (_BLOCK_BITS // 8):
        raise DecryptError(f"{len(data)} bytes is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as err:
        raise DecryptError("bad PKCS#7 padding: wrong key or IV") from err


def check_key(material: bytes, url: str) -> bytes:
    """Return the key if it is 16 bytes long.

    Raises:
        DecryptError: it is not (an HTML error page, an expired token's answer).
    """
    if len(material) != KEY_BYTES:
        raise DecryptError(f"the key at {url} is {len(material)} bytes, not 16")
    return material


def data_uri_key(url: str) -> bytes | None:
    """The bytes of a `data:` URI key, None for any other URL.

    Raises:
        DecryptError: a malformed data URI.
    """
    if not url.startswith("data:"):
        return None
    head, sep, payload = url[5:].partition(",")
    if not sep:
        raise DecryptError("a data: key URI without a payload")
    if head.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except binascii.Error as err:
            raise DecryptError(f"bad base64 in a data: key URI: {err}") from err
    return unquote_to_bytes(payload)


def looks_like_mp4(data: bytes) -> bool:
    """Whether `data` starts with an MP4 box (an unencrypted init section)."""
    return len(data) >= 8 and data[4:8] in _MP4_BOXES
