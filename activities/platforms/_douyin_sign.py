"""Douyin's request signatures: `a_bogus` for the web API, X-Bogus for the chat URL.

Private to `activities.platforms.douyin` (no `__extractor__`). Written from the
steps public re-implementations document (DouyinLiveRecorder's `ab_sign.py`, f2's
`abogus.py`, rust-srec's `abogus.rs` and `signature.rs`); no code is taken from them.

`a_bogus(query, user_agent)`:
1. three hashes: SM3(SM3(query + "cus")), SM3(SM3(body + "cus")) and
   SM3(base64'(RC4(user_agent, key 00 01 0e))), base64' with alphabet `UA_ALPHABET`;
2. 44 bytes picked from those hashes, the start and end times (ms), the page id,
   the app id (6383) and fixed options, then the browser's window string and an
   XOR checksum, all RC4-encrypted with the key "y";
3. 12 "random" bytes (three 16-bit randoms interleaved with fixed masks) in front,
   the whole base64' with `ALPHABET` (no padding), and one "=" at the end.

X-Bogus (the chat websocket's `signature`, what the web page's `frontierSign` gives
for the MD5 of the connection parameters): a version header, a random byte, and ten
payload bytes (counter, fixed codes, the last two bytes of MD5(MD5 bytes) of the
empty string and of the input, the random byte, an XOR checksum), the payload
RC4-encrypted with the random byte as key, base64 with `XBOGUS_ALPHABET`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
import time
from collections.abc import Sequence

ALPHABET = "Dkdpgh2ZmsQB80/MfvV36XI1R45-WUAlEixNLwoqYTOPuzKFjJnry79HbGcaStCe"
UA_ALPHABET = "ckdp1h4ZKsUB80/Mfvw36XIgR25+WQAlEi7NLboqYTOPuzmFjJnryx9HVGDaStCe"
XBOGUS_ALPHABET = "Dkdpgh4ZKsQB80/Mfvw36XI1R25+WUAlEi7NLboqYTOPuzmFjJnryx9HVGcaStCe"
_STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
SALT = "cus"
UA_KEY = b"\x00\x01\x0e"
BODY_KEY = b"y"
AID = 6383
PAGE_ID = 110624  # the live room page
OPTIONS = (0, 1, 14)
# innerWidth|innerHeight|outerWidth|outerHeight|screenX|screenY|…|platform
WINDOW = "1920|1080|1920|1040|0|30|0|0|1872|92|1920|1040|1857|92|1|24|Win32"
# the random prefix's masks, as the web script pairs them with its three randoms
_PREFIX_MASKS = ((3, 45), (1, 0), (1, 5))
# positions of the 44 signed bytes, and the ones the checksum covers
_ORDER = (
    18, 20, 52, 26, 30, 34, 58, 38, 40, 53, 42, 21, 27, 54, 55, 31, 35, 57, 39, 41,
    43, 22, 28, 32, 60, 36, 23, 29, 33, 37, 44, 45, 59, 46, 47, 48, 49, 50, 24, 25,
    65, 66, 70, 71,
)  # fmt: skip
_CHECKED = tuple(sorted(set(_ORDER) - {34}))  # 34 is always 0 and left out
_SM3_IV = (
    0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
    0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E,
)  # fmt: skip
_MASK = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _MASK


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905-2016), which OpenSSL builds do not all offer."""
    bits = len(data) * 8
    data += b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", bits)
    v = list(_SM3_IV)
    for start in range(0, len(data), 64):
        w = list(struct.unpack(">16I", data[start : start + 64]))
        for j in range(16, 68):
            x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
            w.append((x ^ _rotl(x, 15) ^ _rotl(x, 23)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
        a, b, c, d, e, f, g, h = v
        for j in range(64):
            t = 0x79CC4519 if j < 16 else 0x7A879D8A
            ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & _MASK, 7)
            ss2 = ss1 ^ _rotl(a, 12)
            ff = a ^ b ^ c if j < 16 else (a & b) | (a & c) | (b & c)
            gg = e ^ f ^ g if j < 16 else (e & f) | (~e & g)
            tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & _MASK
            tt2 = (gg + h + ss1 + w[j]) & _MASK
            a, b, c, d = tt1, a, _rotl(b, 9), c
            e, f, g, h = tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17), e, _rotl(f, 19), g
        v = [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h), strict=True)]
    return struct.pack(">8I", *v)


def rc4(key: bytes, data: bytes) -> bytes:
    """RC4: the key schedule, then the keystream XORed over `data`."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def b64(data: bytes, alphabet: str) -> str:
    """Base64 with another alphabet and no padding."""
    plain = base64.b64encode(data).decode().rstrip("=")
    return plain.translate(str.maketrans(_STANDARD, alphabet))


def unb64(text: str, alphabet: str) -> bytes:
    """The inverse of `b64` (tests and the fake read signatures back with it)."""
    plain = text.rstrip("=").translate(str.maketrans(alphabet, _STANDARD))
    return base64.b64decode(plain + "=" * (-len(plain) % 4))


def _words(value: int) -> list[int]:
    return [(value >> shift) & 0xFF for shift in (24, 16, 8, 0)]


def a_bogus(
    query: str,
    user_agent: str,
    *,
    body: str = "",
    now_ms: int | None = None,
    randoms: Sequence[int] | None = None,
    window: str = WINDOW,
) -> str:
    """The `a_bogus` of a web API request (see the module docstring).

    Args:
        query: the query string exactly as sent, without `a_bogus`.
        user_agent: the User-Agent header sent with it.
        body: a POST body ("" for GET).
        now_ms: the signing time (default: now).
        randoms: three values below 10000 (default: random).
        window: the browser window string.
    """
    start = int(time.time() * 1000) if now_ms is None else now_ms
    end = start + 100  # the web script measures ~0.1 s of its own work
    draws = randoms or [secrets.randbelow(10000) for _ in range(3)]
    prefix = bytearray()
    for draw, (low, high) in zip(draws, _PREFIX_MASKS, strict=True):
        lo, hi = draw & 0xFF, (draw >> 8) & 0xFF
        # the random's even bits with the mask's odd ones, and the other way round
        prefix += bytes(
            (
                (lo & 170) | (low & 85),
                (lo & 85) | (low & 170),
                (hi & 170) | (high & 85),
                (hi & 85) | (high & 170),
            )
        )
    hashed_query = sm3(sm3((query + SALT).encode()))
    hashed_body = sm3(sm3((body + SALT).encode()))
    hashed_ua = sm3(b64(rc4(UA_KEY, user_agent.encode()), UA_ALPHABET).encode())
    b = dict.fromkeys(range(18, 72), 0)
    b[18], b[48] = 44, 3
    b.update(zip(range(20, 24), _words(start), strict=True))
    b[24], b[25] = (start >> 32) & 0xFF, (start >> 40) & 0xFF
    b.update(zip(range(26, 30), _words(OPTIONS[0]), strict=True))
    b[30], b[31] = (OPTIONS[1] // 256) & 0xFF, OPTIONS[1] % 256
    b[32], b[33] = _words(OPTIONS[1])[:2]
    b.update(zip(range(34, 38), _words(OPTIONS[2]), strict=True))
    b[38], b[39] = hashed_query[21], hashed_query[22]
    b[40], b[41] = hashed_body[21], hashed_body[22]
    b[42], b[43] = hashed_ua[23], hashed_ua[24]
    b.update(zip(range(44, 48), _words(end), strict=True))
    b[49], b[50] = (end >> 32) & 0xFF, (end >> 40) & 0xFF
    b.update(zip(range(52, 56), _words(PAGE_ID), strict=True))
    b.update(zip(range(57, 61), _words(AID)[::-1], strict=True))
    b[65], b[66] = len(window) & 0xFF, (len(window) >> 8) & 0xFF
    checksum = 0
    for key in _CHECKED:
        checksum ^= b[key]
    signed = bytes([b[k] for k in _ORDER]) + window.encode() + bytes([checksum])
    return b64(bytes(prefix) + rc4(BODY_KEY, signed), ALPHABET) + "="


def x_bogus(md5_hex: str, *, counter: int = 1, draws: Sequence[int] = ()) -> str:
    """X-Bogus of an MD5 hex digest: the chat websocket's `signature`.

    Args:
        md5_hex: MD5 (hex) of the signed parameter string.
        counter: the page's signing counter (the chat page signs once).
        draws: two random bytes (default: random), for tests.
    """
    first, second = draws or (secrets.randbelow(256), secrets.randbelow(256))
    key = second * 255 // 256  # the script's random byte is never 255
    empty = _last2(hashlib.md5(b"").hexdigest())
    payload = [counter & 0x3F, 0, 1, 0x0E, *empty, *_last2(md5_hex), key]
    checksum = 0
    for byte in payload:
        checksum ^= byte
    body = rc4(bytes([key]), bytes([*payload, checksum]))
    return b64(bytes([0x40 | (first & 0x1F), key]) + body, XBOGUS_ALPHABET)


def _last2(md5_hex: str) -> tuple[int, int]:
    """The last two bytes of MD5(the bytes `md5_hex` spells)."""
    digest = hashlib.md5(bytes.fromhex(md5_hex)).digest()
    return digest[14], digest[15]
