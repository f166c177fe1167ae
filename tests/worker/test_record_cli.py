"""`srec record`, run as a real process against loopback HLS and HTTP-FLV streams."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.live_hls import LiveHls, assert_playable
from worker.record_cli import parse_duration, parse_header, parse_size

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SEGMENT_LINE = "segment "
WAIT_SECS = 20.0


class Srec:
    """One `srec record` process; its stdout and stderr go to files we poll."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.stdout_path = tmp_path / "stdout.txt"
        self.stderr_path = tmp_path / "stderr.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "record", *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_for(self, check: Callable[[str], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECS
        while not check(self.stdout):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no {what}; stdout:\n{self.stdout}\n{self.stderr}")
            time.sleep(0.1)

    def wait(self) -> int:
        try:
            return self.proc.wait(WAIT_SECS)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"srec record did not exit; stderr:\n{self.stderr}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]


def run_srec(tmp_path: Path, *args: str) -> Srec:
    srec = Srec(tmp_path, *args)
    srec.wait()
    assert "Traceback" not in srec.stderr, srec.stderr
    return srec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def has_bytes(stdout: str) -> bool:
    progress = [e for e in stdout.splitlines() if '"progress"' in e]
    return bool(progress) and json.loads(progress[-1])["bytes"] > 0


def recorded(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def test_sigint_finalises_hls_segments_cut_by_duration(
    tmp_path: Path, ffmpeg: Path
) -> None:
    out = tmp_path / "out"
    with LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=60) as live:
        live.wait_for_segments(2)
        srec = Srec(
            tmp_path,
            live.url,
            "--out",
            str(out),
            "--max-duration",
            "2",
            "--template",
            "{streamer}/part_%i",
        )
        # two files cut by duration, and bytes in the third when the signal comes
        srec.wait_for(
            lambda s: (
                s.count(SEGMENT_LINE) >= 2
                and any(p.stat().st_size for p in recorded(out)[2:])
            ),
            "two closed segments and a third one growing",
        )
        srec.proc.send_signal(signal.SIGINT)
        assert srec.wait() == 0, srec.stderr
    lines = srec.stdout.splitlines()
    assert lines[0].startswith("recording live (hls, native engine)")
    assert lines[-1].startswith("stopped: ")
    files = recorded(out)
    assert len(files) >= 3  # two cut by duration, the one the signal closed
    assert [p.name for p in files[:3]] == ["part_0.ts", "part_1.ts", "part_2.ts"]
    assert {p.parent for p in files} == {out / "live"}
    for path in files:
        assert f"{path} (" in srec.stdout  # each closed segment got its line
        assert_playable(path)
    assert "Traceback" not in srec.stderr


def test_duration_stops_finalises_and_exits_0(tmp_path: Path, ffmpeg: Path) -> None:
    """`--duration` stops the recording; `--split-duration` only splits it."""
    out = tmp_path / "out"
    with LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=60) as live:
        live.wait_for_segments(2)
        srec = run_srec(
            tmp_path,
            live.url,
            *("--out", str(out), "--template", "{streamer}/part_%i"),
            *("--duration", "4", "--split-duration", "1"),
        )
        assert not live.ended()  # srec stopped, not the stream
    assert srec.proc.returncode == 0, srec.stderr
    assert srec.stdout.splitlines()[-1].startswith("duration reached: ")
    files = recorded(out)
    assert len(files) >= 2  # split while recording, stopped after the duration
    for path in files:
        assert_playable(path)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        pytest.param(("--duration", "0"), "--duration must be above 0", id="zero"),
        pytest.param(
            ("--split-duration", "200h"), "less than or equal to 604800", id="split"
        ),
    ],
)
def test_bad_durations_exit_2_with_the_reason(
    tmp_path: Path, args: tuple[str, ...], reason: str
) -> None:
    srec = run_srec(
        tmp_path, "http://127.0.0.1:9/x.m3u8", "--out", str(tmp_path), *args
    )
    assert srec.proc.returncode == 2
    assert reason in srec.stderr


def test_sigterm_finalises_flv_with_json_progress(tmp_path: Path, ffmpeg: Path) -> None:
    out = tmp_path / "out"
    with LiveFlvServer(ffmpeg, duration_secs=60) as server:
        srec = Srec(
            tmp_path,
            server.url,
            "--out",
            str(out),
            "--json-progress",
            "--progress-interval",
            "0.3",
            "--header",
            "X-Test: 1",
        )
        srec.wait_for(has_bytes, "progress with bytes")
        srec.proc.send_signal(signal.SIGTERM)
        assert srec.wait() == 0, srec.stderr
        assert not server.ended
    events = srec.events()
    assert events[0]["event"] == "started"
    assert events[0]["kind"] == "flv"
    assert any(e["event"] == "progress" for e in events)
    segment, summary = events[-2:]
    assert summary["event"] == "summary"
    assert summary["reason"] == "stopped"
    assert summary["segments"] == 1
    assert summary["bytes"] == segment["size_bytes"] > 0
    assert summary["speed"] > 0
    [path] = recorded(out)
    assert segment["path"] == str(path)
    assert_playable(path)


def test_stream_end_exits_0(tmp_path: Path, ffmpeg: Path) -> None:
    out = tmp_path / "out"
    # longer than `srec` takes to start on a loaded 2-core machine
    with LiveFlvServer(ffmpeg, duration_secs=10) as server:
        srec = run_srec(tmp_path, server.url, "--out", str(out))
    assert srec.proc.returncode == 0, srec.stderr
    assert srec.stdout.splitlines()[-1].startswith("stream ended: ")
    [path] = recorded(out)
    assert_playable(path)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        pytest.param("../x_%i", "must stay inside the output root", id="dotdot"),
        pytest.param("/abs_%i", "is absolute", id="absolute"),
        pytest.param("{nope}_%i", "unknown placeholder {nope}", id="placeholder"),
    ],
)
def test_bad_template_exits_2_with_the_reason(
    tmp_path: Path, template: str, reason: str
) -> None:
    srec = run_srec(
        tmp_path,
        "http://127.0.0.1:9/x.m3u8",
        *("--template", template, "--out", str(tmp_path / "o")),
    )
    assert srec.proc.returncode == 2
    assert reason in srec.stderr
    assert srec.stdout == ""


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        pytest.param(
            "http://127.0.0.1:{port}/live.m3u8", 1, "is not live", id="unreachable"
        ),
        pytest.param(
            "rtmp://example.invalid/live", 2, "no platform recognises", id="unsupported"
        ),
    ],
)
def test_unrecordable_url_is_a_clear_message(
    tmp_path: Path, url: str, code: int, message: str
) -> None:
    srec = run_srec(tmp_path, url.format(port=free_port()), "--out", str(tmp_path))
    assert srec.proc.returncode == code
    assert message in srec.stderr
    assert set(recorded(tmp_path)) == {srec.stdout_path, srec.stderr_path}


@pytest.mark.parametrize(
    ("text", "size"),
    [
        pytest.param("1024", 1024, id="bytes"),
        pytest.param("500M", 500 * 1024**2, id="mega"),
        pytest.param("1.5GiB", int(1.5 * 1024**3), id="gib"),
        pytest.param("2kb", 2048, id="kb"),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_duration_and_header() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_header("Referer:  https://x/ ") == ("Referer", "https://x/")
    for bad in ("-1", "ten", "5x"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
            parse_size(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="not a header"):
        parse_header("novalue")
