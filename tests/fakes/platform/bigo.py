"""Bigo's studio API, web token and share links, answering as they do today.

Nothing of Bigo was captured; every answer is built in the shapes the public
clients read. The studio (`code`, `msg`, `data`: `alive`, `roomId`, `siteId`,
`nick_name`, `roomTopic`, `gameTitle`, `hls_src`, `snapshot`, `avatar`,
`passRoom`) and getWebSocketLink (`uidToken` with its `###VER2` tail, `userId`,
`deviceId`) follow rust-srec's Bigo models and yt-dlp's and streamlink's
extractors; a site id with no channel answers `roomId` null (streamlink reads
that as "no channel"). The token endpoints answer JSONP (`{"code", "time"}`, then
`{"token"}`) as streamlink's plugin reads them; the fake decrypts the payload with
streamlink's own `decrypt_openssl`, refuses anything else, and holds back
`hls_src` from a studio request without a fresh token (tokens are single-use, as
rust-srec observed). A share link answers the page DouyinLiveRecorder reads: its
`al:web:url` meta names the channel in `h=`.

    api.room("221338632", extra={"room_id": "6576287577575737440"}).go_live(url)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from typing import Any, ClassVar
from urllib.parse import parse_qs

from streamlink.utils.crypto import decrypt_openssl

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply

PASSPHRASE = b"undefinedval0x01"
SERVER_TIME = "1767000000"
PROTECTED = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-BIGO-WEB-PROTECTION:SEED=12345\n"
_CALLBACK = re.compile(r"^jsonpcallback_\d+_\d+$")


class BigoApi(PlatformApi):
    name = "bigo"
    hosts: ClassVar[tuple[str, ...]] = (
        "ta.bigo.tv",
        "sec.bigo.sg",
        "slink.bigovideo.tv",
    )

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()  # minted and not yet spent
        self.shares: dict[str, str] = {}
        self.studio_forms: list[dict[str, str]] = []

    def share(self, code: str, site: str) -> None:
        """`https://slink.bigovideo.tv/<code>` opens the channel `site`."""
        self.shares[code] = site

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "sec.bigo.sg":
            return self._token(request)
        if request.host == "slink.bigovideo.tv":
            return self._share(request.path.strip("/"))
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        if request.path == "/official_website/studio/getInternalStudioInfo":
            return self._studio(form)
        if request.path == "/official_website/studio/getWebSocketLink":
            return self._ws_link(form)
        if request.path.startswith("/hls/"):  # a protected room's playlist
            return Reply.text(PROTECTED, content_type="application/vnd.apple.mpegurl")
        return Reply.text("no such page", 404)

    def _token(self, request: FakeRequest) -> Reply:
        callback = request.arg("callback")
        if not _CALLBACK.match(callback):
            return Reply.text("bad callback", 400)
        if request.path == "/v1/webjs/t":
            body: dict[str, Any] = {"code": 0, "time": SERVER_TIME}
        elif request.path == "/v1/webjs/status":
            plain = decrypt_openssl(base64.b64decode(request.arg("data")), PASSPHRASE)
            payload = json.loads(plain or b"{}")
            if payload.get("at_time") != SERVER_TIME or payload.get("ver") != "2.0":
                return Reply.text(f'{callback}({{"code":1}});')
            token = secrets.token_hex(12)
            self.tokens.add(token)
            body = {"token": token}
        else:
            return Reply.text("no such page", 404)
        return Reply.text(
            f"{callback}({json.dumps(body)});", content_type="text/javascript"
        )

    def _share(self, code: str) -> Reply:
        site = self.shares.get(code)
        if site is None:
            return Reply.text("<html>404</html>", 404, "text/html")
        meta = f"https://www.bigo.tv/?lang=en&amp;h={site}"
        page = (
            '<html><head><meta data-n-head="ssr" data-hid="al:web:url" '
            f'property="al:web:url" content="{meta}"></head></html>'
        )
        return Reply.text(page, content_type="text/html")

    def _studio(self, form: dict[str, str]) -> Reply:
        self.studio_forms.append(form)
        site = form.get("siteId", "")
        room = self.rooms.get(site)
        if room is None or room.state == "not_found":
            data: dict[str, Any] = {"roomId": None, "siteId": site, "nick_name": ""}
            return Reply.json({"code": 0, "msg": "success", "data": data})
        token = form.get("token", "")
        fresh = token in self.tokens
        self.tokens.discard(token)
        live = room.state == LIVE and room.stream_url is not None
        password = room.extra.get("password")
        unlocked = password is None or (
            form.get("isEncrypt") == "1"
            and form.get("verify") == hashlib.md5(password.encode()).hexdigest()
        )
        src = ""
        if live and fresh and unlocked:
            src = (
                f"https://ta.bigo.tv/hls/{site}/list.m3u8"
                if room.extra.get("protected")
                else str(room.stream_url)
            )
        data = {
            "sid": 2318878816, "siteId": site, "uid": 1739055289,
            "nick_name": room.author, "gameTitle": room.category,
            "roomTopic": room.title, "snapshot": f"https://bigo.example/{site}.jpg",
            "alive": 1 if live else 0,
            "roomId": room.extra.get("room_id", "6576287577575737440") if live else "0",
            "hls_src": src, "passRoom": password is not None,
            "avatar": f"https://bigo.example/{site}-avatar.jpg", "clientBigoId": site,
        }  # fmt: skip
        if self.malformed:
            del data["alive"]
            data["roomId"] = ["not", "an", "id"]
        return Reply.json({"code": 0, "msg": "success", "data": data})

    def _ws_link(self, form: dict[str, str]) -> Reply:
        device = form.get("deviceId", "")
        if not device.startswith("web_"):
            return Reply.json({"code": 1, "msg": "deviceId missing"})
        data = {
            "uidToken": f"{secrets.token_hex(16)}###VER2", "userId": 4289453781,
            "userName": "guest", "deviceId": device, "seqId": "1",
        }  # fmt: skip
        return Reply.json({"code": 0, "msg": "success", "data": data})
