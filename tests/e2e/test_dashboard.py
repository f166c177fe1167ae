"""The dashboard in a real browser: Playwright driving Debian's Chromium against the
real stack (Temporal dev server, `srec worker`, `srec api`) recording a live HLS
stream from ffmpeg on loopback.

Every wait is on a state of the page (Playwright's `expect`), never on time. With
`SREC_DASHBOARD_SCREENSHOTS=<dir>` the tests also save screenshots of the main
pages at desktop (1280x800) and phone (390x844) widths into that folder.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.db import Streamer, crud, make_engine
from activities.db.crud_profile import Profile, save_profiles
from tests.e2e.dashboard_data import recorded_session, serve_pictures
from tests.e2e.stack import ADMIN_PASSWORD, FAST_SETTINGS, Stack, free_port
from tests.fakes.live_hls import LiveHls
from tests.temporal import start_dev_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# bounds for a failure on a loaded 2-core machine, not delays
STACK_SECS = 60_000
RECORD_SECS = 60_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="the browser tests drive /usr/bin/chromium: apt-get install -y chromium",
    ),
]

# imported after the skip: Playwright is a dev dependency, Chromium a system one
expect: Any = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def dev_server() -> Iterator[str]:
    """A Temporal dev server, run from a thread with its own event loop: the
    module's Chromium (Playwright's sync API) holds a running loop in this one."""
    started: queue.Queue[str | BaseException] = queue.Queue()
    done = threading.Event()

    async def serve() -> None:
        try:
            env = await start_dev_server()
        except BaseException as err:
            started.put(err)
            raise
        async with env:
            started.put(env.client.service_client.config.target_host)
            await asyncio.to_thread(done.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    found = started.get(timeout=STACK_SECS / 1000)
    if isinstance(found, BaseException):
        raise found
    yield found
    done.set()
    thread.join(STACK_SECS / 1000)


@pytest.fixture
def stack(tmp_path: Path, dev_server: str) -> Iterator[Stack]:
    data = tmp_path / "data"
    data.mkdir()
    running = Stack(data, dev_server, settings=dict(FAST_SETTINGS))
    yield running
    running.stop()


@pytest.fixture
def live(tmp_path: Path, ffmpeg: Path) -> Iterator[LiveHls]:
    with LiveHls(
        tmp_path / "hls", ffmpeg=ffmpeg, hls_time=1.0, list_size=30, duration=900
    ) as stream:
        stream.wait_for_segments(1)
        yield stream


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One Chromium for the module: starting it is a good part of a test's cost."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        running = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield running
        running.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[BrowserContext]:
    """A context of its own per test: its own tokens and local storage."""
    context = chromium.new_context(viewport=DESKTOP)
    yield context
    context.close()


def shoot(page: Page, name: str) -> None:
    """Screenshots at both widths, when asked for (docs/screenshots has a set)."""
    folder = os.environ.get("SREC_DASHBOARD_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    sizes: list[tuple[str, ViewportSize]] = [("desktop", DESKTOP), ("phone", PHONE)]
    for label, size in sizes:
        page.set_viewport_size(size)
        page.screenshot(path=f"{folder}/{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    expect(page.locator("#password")).to_be_visible(timeout=STACK_SECS)
    shoot(page, "login")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("#add-streamer")).to_be_visible()
    # the live-events socket authenticated
    expect(page.locator("#live-status")).to_have_attribute("data-mode", "live")


def size_text(page: Page) -> str:
    text: str = page.locator("article.streamer .rec-size").inner_text()
    return text


def test_record_watch_control_and_play_from_the_dashboard(
    stack: Stack, live: LiveHls, browser: BrowserContext
) -> None:
    stack.start("api")
    stack.start("worker")
    base = f"http://127.0.0.1:{stack.api_port}"
    api = stack.api()
    page = browser.new_page()
    log_in(page, base)

    # add by pasting the URL; the preview shows what srec found there
    page.click("#add-streamer")
    page.fill("#add-url", live.url)
    page.click("#add-preview-btn")
    expect(page.locator("#add-preview")).to_contain_text("generic")
    page.fill("#add-name", "Alice")
    page.click("#add-save")
    row = page.locator("article.streamer", has_text="Alice")
    expect(row).to_be_visible()

    # it goes live and the recording grows, with no reload (the socket pushes it)
    page.evaluate("window.__sameDocument = true")
    expect(row.locator(".badge")).to_have_text("live", timeout=RECORD_SECS)
    # the live check's title (the generic platform's: the URL's stem), kept
    expect(row.locator(".current .title")).to_have_text("live", timeout=RECORD_SECS)
    expect(row.locator(".rec-size")).to_be_visible(timeout=RECORD_SECS)
    first = size_text(page)
    expect(row.locator(".rec-size")).not_to_have_text(first, timeout=RECORD_SECS)
    assert page.evaluate("window.__sameDocument") is True
    shoot(page, "streamers")

    # pause and resume
    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".badge")).to_have_text("paused", timeout=RECORD_SECS)
    row.get_by_role("button", name="Resume").click()
    expect(row.locator(".badge")).to_have_text("live", timeout=RECORD_SECS)

    # the streamer's page: its sessions; then a session's page plays a segment
    row.locator("a.name").click()
    expect(page.locator("#sessions tbody tr").first).to_be_visible()
    shoot(page, "streamer")
    page.locator("#sessions tbody tr a").first.click()
    closed = page.locator("#segments tbody tr", has_not_text="writing")
    expect(closed.first).to_be_visible(timeout=RECORD_SECS)
    closed.first.get_by_role("button", name=re.compile("Play")).click()
    video = page.locator("#video")
    expect(video).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.getElementById('video');"
        " return v && v.currentTime > 0.2; }",
        timeout=RECORD_SECS,
    )
    shoot(page, "session")
    session_id = page.url.rsplit("/", 1)[1]

    # run a pipeline on segment 0 and watch its steps finish
    page.goto(f"{base}/#/pipelines")
    page.fill("#run-session", session_id)
    page.fill("#run-segments", "0")
    page.select_option("#run-preset", "remux-thumbnail")
    page.click("#run-start")
    expect(page.locator("#dag .step")).to_have_count(2)
    expect(page.locator("#run-status")).to_have_text("COMPLETED", timeout=RECORD_SECS)
    for step in page.locator("#dag .step").all():
        expect(step).to_have_attribute("data-status", "COMPLETED")
    shoot(page, "pipeline-run")

    # a config value set at the streamer level becomes the effective one
    streamer_id = api.get("/api/streamers").json()["items"][0]["id"]
    page.goto(f"{base}/#/streamers/{streamer_id}?tab=config")
    field = page.locator('tr[data-field="poll_interval_secs"]')
    expect(field.locator(".source")).to_have_text("global")
    page.fill("#setting-poll_interval_secs", "7")
    page.click("#save-settings")
    expect(field.locator(".effective")).to_have_text("7")
    expect(field.locator(".source")).to_have_text("streamer")
    shoot(page, "streamer-config")
    config = api.get(f"/api/streamers/{streamer_id}/config").json()
    assert config["config"]["poll_interval_secs"] == 7

    # the other pages render against the real stack
    for name, route, ready in (
        ("pipelines", "#/pipelines", "#presets"),
        ("config", "#/config", "#save-settings"),
        ("system", "#/system", "#components"),
    ):
        page.goto(f"{base}/{route}")
        expect(page.locator(ready)).to_be_visible()
        if name == "system":
            # the worker polls each queue (Temporal says who), the disk is read
            for queue in ("srec-workflows", "srec-io", "srec-cpu"):
                polled = page.locator(f'#workers tr[data-queue="{queue}"] .identity')
                expect(polled.first).to_contain_text("@")
            disk = page.locator("#disks tbody tr").first
            expect(disk).to_have_attribute(
                "data-path", str(stack.data_dir / "recordings")
            )
            expect(disk).to_contain_text("iB")
        shoot(page, name)

    # log out: back to the login form, the refresh token revoked
    page.click("#logout")
    expect(page.locator("#password")).to_be_visible()


@pytest.fixture(scope="module")
def api_only(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, sa.Engine]]:
    """Only `srec api` (Temporal unreachable) and its app DB, written by the tests.

    Shared by the module's tests (each writes streamers of its own names).
    """
    data = tmp_path_factory.mktemp("api-only") / "data"
    data.mkdir()
    stack = Stack(data, f"127.0.0.1:{free_port()}")
    stack.start("api")
    stack.api()  # it answers: the schema is migrated
    engine = make_engine(f"sqlite:///{data / 'srec.db'}")
    yield stack, engine
    engine.dispose()
    stack.stop()


def log_in_at(page: Page, stack: Stack) -> str:
    base = f"http://127.0.0.1:{stack.api_port}"
    page.goto(f"{base}/")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("#add-streamer")).to_be_visible()
    return base


def test_without_the_socket_the_page_polls(
    api_only: tuple[Stack, sa.Engine], browser: BrowserContext
) -> None:
    """A state the DB changes still shows when the page cannot open its socket."""
    stack, engine = api_only
    with Session(engine) as db:
        row = crud.create_streamer(
            db,
            Streamer(name="Bob", url="https://example.com/b.m3u8", platform="generic"),
        )
        streamer_id = row.id
    assert streamer_id is not None
    page = browser.new_page()
    # what a browser whose socket fails does: it polls the API instead
    page.add_init_script("localStorage.setItem('srec.noWebSocket', '1')")
    log_in_at(page, stack)
    expect(page.locator("#live-status")).to_have_attribute("data-mode", "polling")
    row_el = page.locator("article.streamer", has_text="Bob")
    expect(row_el.locator(".badge")).to_have_text("offline")
    with Session(engine) as db:
        crud.set_streamer_state(
            db, streamer_id, state="NOT_LIVE", enabled=True, last_error="HTTP 404"
        )
    expect(row_el.locator(".badge")).to_have_text("error", timeout=RECORD_SECS)
    expect(row_el).to_contain_text("HTTP 404")
    with Session(engine) as db:
        crud.set_streamer_state(
            db, streamer_id, state="OUT_OF_SCHEDULE", enabled=True, reason="cron"
        )
    expect(row_el.locator(".badge")).to_have_text(
        "out of schedule", timeout=RECORD_SECS
    )
    expect(row_el.locator(".reason")).to_have_text("cron")
    expect(row_el.get_by_role("button", name="Clear error")).to_have_count(0)
    with Session(engine) as db:
        crud.set_streamer_state(
            db, streamer_id, state="FATAL_ERROR", enabled=True, reason="banned: locked"
        )
    expect(row_el.locator(".badge")).to_have_text("error", timeout=RECORD_SECS)
    expect(row_el.locator(".reason")).to_have_text("banned: locked")
    expect(row_el.get_by_role("button", name="Clear error")).to_be_visible()


def test_a_session_plays_mp4_with_its_danmaku_and_chat_charts(
    api_only: tuple[Stack, sa.Engine], browser: BrowserContext, ffmpeg: Path
) -> None:
    stack, engine = api_only
    folder = stack.data_dir / "recordings" / "Carol"
    folder.mkdir(parents=True)
    video = folder / "Carol_0.mp4"
    subprocess.run(
        [str(ffmpeg), "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "4",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-movflags", "+faststart", str(video)],
        check=True,
        timeout=120,
    )  # fmt: skip
    session_id = recorded_session(engine, video)
    page = browser.new_page()
    base = log_in_at(page, stack)
    page.goto(f"{base}/#/sessions/{session_id}")
    expect(page.locator("#rate-chart canvas")).to_be_attached()
    expect(page.locator("#danmu-stats .bars").first).to_contain_text("ann")
    row = page.locator('#segments tr[data-index="0"]')
    expect(row).to_contain_text("2")  # danmu messages
    row.get_by_role("button", name=re.compile("Play")).click()
    page.wait_for_function(
        "() => { const v = document.getElementById('video');"
        " return v && v.currentTime > 0.7; }",
        timeout=RECORD_SECS,
    )
    # both messages flew over the picture (each stays in the DOM while it flies)
    expect(page.locator(".danmaku span", has_text="hello danmaku")).to_be_attached()
    expect(page.locator(".danmaku span", has_text="second one")).to_be_attached()
    shoot(page, "session-danmaku")
    # the same messages from the ASS the danmaku step rendered, from the start
    page.select_option("#danmaku-source", "ass")
    page.evaluate(
        "() => { const v = document.getElementById('video');"
        " v.currentTime = 0; v.play(); }"
    )
    overlay = page.locator('.danmaku[data-source="ass"]')
    expect(overlay.locator("span", has_text="hello danmaku")).to_be_attached(
        timeout=RECORD_SECS
    )
    red = overlay.locator("span", has_text="second one")
    expect(red).to_have_css("color", "rgb(255, 0, 0)", timeout=RECORD_SECS)


@pytest.fixture
def pictures() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback picture host and the headers of every request it got."""
    with serve_pictures() as served:
        yield served


def test_profiles_the_system_page_and_presets(
    api_only: tuple[Stack, sa.Engine],
    browser: BrowserContext,
    pictures: tuple[str, list[dict[str, str]]],
) -> None:
    """The stored profile shows and follows changes; a picture that cannot be had
    leaves the initial; the system page says Temporal is away and shows the disk;
    a pipeline preset is made and deleted."""
    stack, engine = api_only
    host, asked = pictures
    (stack.data_dir / "recordings").mkdir(exist_ok=True)  # a worker would
    ids = {}
    with Session(engine) as db:
        for name in ("Dave", "Erin"):
            row = crud.create_streamer(
                db,
                Streamer(
                    name=name,
                    url=f"https://example.com/{name}.m3u8",
                    platform="generic",
                ),
            )
            assert row.id is not None
            ids[name] = row.id
        save_profiles(
            db,
            {
                ids["Dave"]: Profile("Speedrun night", "Games", f"{host}/face.png"),
                ids["Erin"]: Profile("Knitting", avatar_url=f"{host}/gone.png"),
            },
        )
    page = browser.new_page()
    base = log_in_at(page, stack)
    dave = page.locator("article.streamer", has_text="Dave")
    erin = page.locator("article.streamer", has_text="Erin")
    expect(dave.locator(".current")).to_have_text("Speedrun night · Games")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.avatar img')]"
        ".some((i) => i.complete && i.naturalWidth === 1)",
        timeout=RECORD_SECS,
    )
    # the broken picture is dropped: the initial shows
    expect(erin.locator(".avatar img")).to_have_count(0, timeout=RECORD_SECS)
    expect(erin.locator(".avatar")).to_have_text("E")
    # some platforms refuse pictures shown on other sites' pages: none is named
    assert asked
    assert all("referer" not in headers for headers in asked)
    # the search finds a streamer by its title
    page.fill('input[type="search"]', "knitting")
    expect(page.locator("article.streamer")).to_have_count(1)
    page.fill('input[type="search"]', "")
    # a new title arrives without a reload
    with Session(engine) as db:
        save_profiles(db, {ids["Dave"]: Profile("Any% attempts")})
    expect(dave.locator(".current")).to_contain_text(
        "Any% attempts", timeout=RECORD_SECS
    )
    shoot(page, "streamers-profiles")
    page.goto(f"{base}/#/streamers/{ids['Dave']}")
    expect(page.locator("#streamer-title")).to_have_text("Any% attempts · Games")
    page.goto(f"{base}/#/system")
    expect(page.locator("#workers-error")).to_contain_text("unreachable")
    expect(page.locator("#disks tbody tr").first).to_contain_text("iB")
    # a pipeline preset made and deleted from the page
    page.goto(f"{base}/#/pipelines")
    page.locator("details", has_text="New pipeline preset").locator("summary").click()
    page.click("text=Create preset")
    made = page.locator('#presets tr[data-preset="remux-upload"]')
    expect(made).to_contain_text("remux")
    made.get_by_role("button", name="Delete").click()
    page.click("#confirm-ok")
    expect(made).to_have_count(0)
