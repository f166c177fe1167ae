"""Real HLS media for engine tests: ffmpeg renditions cut into segments, and a checker.

`render` encodes a few seconds of test pattern and tone as fast as it can (no `-re`)
into MPEG-TS or fMP4 HLS segments and returns their bytes and EXTINF durations, so a
scripted origin can serve real media with any fault. `check_recording` opens a
recording with PyAV and checks what every recording a test makes must satisfy.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import m3u8
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.media_check import monotonic_packets

if TYPE_CHECKING:
    from pathlib import Path

FPS = 25


@dataclass(frozen=True)
class Rendition:
    """Segments of one encode, in order (segment n starts at n seconds)."""

    segments: tuple[bytes, ...]
    durations: tuple[float, ...]
    init: bytes | None
    width: int
    height: int

    @property
    def ext(self) -> str:
        """Extension a recording of it gets."""
        return "ts" if self.init is None else "mp4"

    def joined(self, *indices: int, with_init: bool = True) -> bytes:
        """What a file holding these segments contains."""
        head = self.init if (with_init and self.init is not None) else b""
        return head + b"".join(self.segments[i] for i in indices)


def render(
    ffmpeg: Path,
    directory: Path,
    *,
    count: int,
    size: tuple[int, int] = (320, 240),
    fmp4: bool = False,
    frequency: int = 440,
    video_filter: str = "",
) -> Rendition:
    """Encode `count` one-second segments (H.264 + AAC) into `directory`.

    `video_filter` is appended to the test pattern's filter graph (`noise=...`
    makes every frame unique: the pattern itself repeats every few seconds).

    Raises:
        subprocess.CalledProcessError: ffmpeg failed (its stderr attached).
    """
    directory.mkdir(parents=True, exist_ok=True)
    width, height = size
    ext = "m4s" if fmp4 else "ts"
    cmd = [
        str(ffmpeg),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={width}x{height}:rate={FPS}"
        + (f",{video_filter}" if video_filter else ""),
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:sample_rate=44100",
        "-t",
        str(count),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(FPS),
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_list_size",
        "0",
        "-hls_segment_filename",
        str(directory / f"seg%03d.{ext}"),
    ]
    if fmp4:
        cmd += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
    cmd.append(str(directory / "index.m3u8"))
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    parsed = m3u8.parse((directory / "index.m3u8").read_text())
    names = [s["uri"] for s in parsed["segments"]]
    return Rendition(
        segments=tuple((directory / name).read_bytes() for name in names),
        durations=tuple(float(s["duration"]) for s in parsed["segments"]),
        init=(directory / "init.mp4").read_bytes() if fmp4 else None,
        width=width,
        height=height,
    )


def encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-128-CBC with PKCS#7 padding, as an HLS packager encrypts a segment."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def sequence_iv(sequence: int) -> bytes:
    """The IV of a segment whose key has none: its media sequence, big-endian."""
    return sequence.to_bytes(16, "big")


@dataclass(frozen=True)
class Probe:
    """What PyAV saw in a recording."""

    codecs: tuple[str, ...]
    width: int
    height: int
    duration_secs: float
    video_packets: int


def check_recording(
    path: Path,
    *,
    duration: float | None = None,
    size: tuple[int, int] | None = None,
    tolerance: float = 0.15,
) -> Probe:
    """Check a recording with PyAV and measure it.

    Checked: H.264 and AAC streams are present; the first video packet is a
    keyframe that decodes (the file starts decodable); decode timestamps never go
    back in either stream; the video spans `duration` seconds if given; the picture
    is `size` if given.

    Returns:
        What was seen.
    """
    import av  # heavy: only tests that record import it

    with av.open(str(path)) as container:
        codecs = tuple(sorted(s.codec_context.name for s in container.streams))
        assert codecs == ("aac", "h264"), f"{path}: streams {codecs}"
        video = container.streams.video[0]
        pts: list[int] = []
        first_checked = False
        for packet in monotonic_packets(container, path):
            if packet.stream.index != video.index:
                continue
            if not first_checked:
                assert packet.is_keyframe, f"{path}: starts without a keyframe"
                assert packet.decode(), f"{path}: the first keyframe does not decode"
                first_checked = True
            if packet.pts is not None:
                pts.append(packet.pts)
        assert pts, f"{path}: no video"
        time_base = video.time_base
        assert time_base is not None
        span = float((max(pts) - min(pts)) * time_base) + 1 / FPS
        width, height = video.codec_context.width, video.codec_context.height
    if duration is not None:
        assert abs(span - duration) <= tolerance, (
            f"{path}: {span:.3f} s of video, expected {duration:.3f} s"
        )
    if size is not None:
        assert (width, height) == size, f"{path}: {width}x{height}, expected {size}"
    return Probe(codecs, width, height, span, len(pts))
