"""The benchmarks' stream, encoded once and cached.

A test pattern and a tone (libx264 at a constant ~6 Mbps with a keyframe every 2 s,
AAC), encoded once into `bench/.cache/` (gitignored), then cut without re-encoding
into 2 s MPEG-TS HLS segments and one FLV file, which `bench.source` replays live.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from activities.tools import ffmpeg_executable

log = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
SEGMENT_SECS = 2
_EXTINF = re.compile(r"#EXTINF:([0-9.]+)")


@dataclass(frozen=True)
class EncodeSpec:
    """What the one-time encode produces."""

    secs: int = 120
    width: int = 1280
    height: int = 720
    fps: int = 30
    video_kbps: int = 5800
    audio_kbps: int = 128

    @property
    def key(self) -> str:
        """The cache directory name of this encode."""
        return (
            f"src-{self.secs}s-{self.width}x{self.height}-{self.fps}fps-"
            f"{self.video_kbps}k-{self.audio_kbps}k"
        )


@dataclass(frozen=True)
class SourceMedia:
    """The encoded files: HLS segments with their durations, and one FLV file."""

    spec: EncodeSpec
    segments: list[Path]
    durations: list[float]
    flv: Path

    @property
    def bitrate_bps(self) -> float:
        """Mean bitrate of the HLS segments (what a recorder writes)."""
        size = sum(p.stat().st_size for p in self.segments)
        return 8 * size / sum(self.durations)


def ensure_source(
    spec: EncodeSpec | None = None, cache: Path = CACHE_DIR
) -> SourceMedia:
    """Encode the source once (about a minute on 2 cores) and return its files.

    Args:
        spec: what to encode; the defaults are the benchmarks' stream.
        cache: where encodes are kept, one directory per spec.

    Returns:
        The segments and the FLV file.
    """
    spec = spec or EncodeSpec()
    final = cache / spec.key
    if not (final / "meta.json").is_file():
        _encode(spec, final)
    index = (final / "hls" / "index.m3u8").read_text()
    durations = [float(d) for d in _EXTINF.findall(index)]
    segments = [
        final / "hls" / line
        for line in index.splitlines()
        if line and not line.startswith("#")
    ]
    return SourceMedia(spec, segments, durations, final / "source.flv")


def _encode(spec: EncodeSpec, final: Path) -> None:
    ffmpeg = ffmpeg_executable()
    if ffmpeg is None:
        raise RuntimeError("no ffmpeg: install imageio-ffmpeg or put ffmpeg on PATH")
    work = final.with_name(final.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "hls").mkdir(parents=True)
    log.info("encoding the benchmark source once into %s (about a minute)", final)
    base = [str(ffmpeg), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    gop = SEGMENT_SECS * spec.fps
    kbps = spec.video_kbps
    master = work / "master.ts"
    steps = [
        [
            *base,
            *("-f", "lavfi", "-i"),
            f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}",
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", str(spec.secs)),
            *("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"),
            # constant bitrate with filler, so the stream weighs 6 Mbps even
            # though a test pattern compresses far better
            *("-b:v", f"{kbps}k", "-minrate", f"{kbps}k", "-maxrate", f"{kbps}k"),
            *("-bufsize", f"{kbps}k", "-x264-params", "nal-hrd=cbr"),
            *("-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"),
            *("-c:a", "aac", "-b:a", f"{spec.audio_kbps}k"),
            *("-f", "mpegts", str(master)),
        ],
        [
            *base,
            *("-i", str(master), "-c", "copy", "-f", "hls"),
            *("-hls_time", str(SEGMENT_SECS), "-hls_list_size", "0"),
            *("-hls_playlist_type", "vod"),
            *("-hls_segment_filename", str(work / "hls" / "seg%05d.ts")),
            str(work / "hls" / "index.m3u8"),
        ],
        [
            *base,
            *("-i", str(master), "-c", "copy", "-bsf:a", "aac_adtstoasc"),
            *("-f", "flv", str(work / "source.flv")),
        ],
    ]
    for step in steps:
        subprocess.run(step, check=True, stdin=subprocess.DEVNULL, timeout=1800)
    master.unlink()
    (work / "meta.json").write_text(json.dumps(spec.__dict__))
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
