"""Fake platforms on loopback: their web APIs, rooms that go live on command.

One threaded HTTP server on 127.0.0.1 answers every platform's hosts; which
platform answers is chosen by the Host header, which the host-mapping transport
(`activities.host_map`) keeps while it sends the request here. A room broadcasts a
real stream (ffmpeg via `tests.fakes.live_hls.LiveHls` or `live_flv.LiveFlvServer`):
its URLs go into the platform's answers as they are.

    with FakePlatforms() as fake:
        fake.bilibili.room("23058").go_live(flv.url)
        async with fake.client() as http:            # the real client, mapped here
            status = await Bilibili(http).check_live("https://live.bilibili.com/23058")
        env["SREC_HOST_MAP"] = fake.host_map_setting  # a worker process, mapped here

To add a platform: a `PlatformApi` subclass in `tests/fakes/platform/<name>.py`
(`hosts`, `answer(request)` built from its captured answers) and one line in `APIS`.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx

from activities.host_map import HostMapTransport
from tests.fakes.background import BackgroundFake
from tests.fakes.platform.acfun import AcfunApi
from tests.fakes.platform.base import FakeRequest, PlatformApi, Reply, Room
from tests.fakes.platform.bigo import BigoApi
from tests.fakes.platform.bilibili import BilibiliApi
from tests.fakes.platform.douyin import DouyinApi
from tests.fakes.platform.douyu import DouyuApi
from tests.fakes.platform.huya import HuyaApi
from tests.fakes.platform.pandatv import PandaTvApi
from tests.fakes.platform.picarto import PicartoApi
from tests.fakes.platform.redbook import RedbookApi
from tests.fakes.platform.soop import SoopApi
from tests.fakes.platform.tiktok import TikTokApi
from tests.fakes.platform.twitcasting import TwitcastingApi
from tests.fakes.platform.twitch import TwitchApi
from tests.fakes.platform.weibo import WeiboApi

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["APIS", "FakePlatforms", "PlatformApi", "Reply", "Room"]

log = logging.getLogger(__name__)

APIS: tuple[type[PlatformApi], ...] = (
    BilibiliApi,
    TwitchApi,
    DouyinApi,
    TikTokApi,
    RedbookApi,
    WeiboApi,
    HuyaApi,
    DouyuApi,
    AcfunApi,
    BigoApi,
    TwitcastingApi,
    SoopApi,
    PicartoApi,
    PandaTvApi,
)


class FakePlatforms(BackgroundFake):
    """Every fake platform API behind one loopback server.

    Args:
        apis: the platforms to serve (default: all of `APIS`).
    """

    def __init__(self, apis: Sequence[type[PlatformApi]] = APIS) -> None:
        self.apis = {api.name: api() for api in apis}
        self._by_host = {host: api for api in self.apis.values() for host in api.hosts}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def bilibili(self) -> BilibiliApi:
        api = self.apis["bilibili"]
        assert isinstance(api, BilibiliApi)
        return api

    @property
    def twitch(self) -> TwitchApi:
        api = self.apis["twitch"]
        assert isinstance(api, TwitchApi)
        return api

    @property
    def douyin(self) -> DouyinApi:
        api = self.apis["douyin"]
        assert isinstance(api, DouyinApi)
        return api

    @property
    def tiktok(self) -> TikTokApi:
        api = self.apis["tiktok"]
        assert isinstance(api, TikTokApi)
        return api

    @property
    def redbook(self) -> RedbookApi:
        api = self.apis["redbook"]
        assert isinstance(api, RedbookApi)
        return api

    @property
    def weibo(self) -> WeiboApi:
        api = self.apis["weibo"]
        assert isinstance(api, WeiboApi)
        return api

    @property
    def address(self) -> str:
        assert self._httpd is not None, "FakePlatforms not started"
        host, port = self._httpd.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def host_map(self) -> dict[str, str]:
        """Every served host → this server."""
        return dict.fromkeys(self._by_host, self.address)

    @property
    def host_map_setting(self) -> str:
        """`host_map` as `SREC_HOST_MAP` takes it."""
        return ",".join(f"{host}={target}" for host, target in self.host_map.items())

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A client like the worker's, with every served host mapped here."""
        return httpx.AsyncClient(
            transport=HostMapTransport(self.host_map), follow_redirects=True, **kwargs
        )

    def start(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _reply(self, request: FakeRequest) -> Reply:
        api = self._by_host.get(request.host)
        if api is None:
            return Reply.text(f"no fake platform serves {request.host}", 421)
        try:
            return api.handle(request)
        except Exception as err:  # a broken fake must show in the test, not hang it
            log.exception("fake %s failed", api.name)
            return Reply.text(f"fake {api.name} failed: {err!r}", 500)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                request = FakeRequest.of(
                    self.command, host, self.path, dict(self.headers.items()), body
                )
                reply = fake._reply(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:
                log.debug("fake platform: " + format, *args)

        return Handler
