"""CPU per recorded minute of checking closed segments: main's probe vs today's checks.

Until issue 7 every closed segment got a `media.probe_segment` activity that
demuxed the whole file with PyAV to measure its duration. Now the engines measure
durations as they write, the native ones read each file's streams from the bytes
that open it (`activities.engines.layout`), and the files ffmpeg and streamlink
write get a header-level check (`activities.media.check_file`). This benchmark
runs both ways over the same real segments and prints the CPU of each.

The segments are the benchmarks' stream (`bench.encode`: 720p30 H.264 at 6 Mbps,
AAC, 2 s GOP), cut without re-encoding into files of `--segment-secs` (60 s: short
files are the worst case for a per-file check) as each engine writes them:
MPEG-TS (native HLS; ffmpeg and streamlink by default for HLS), FLV (native FLV;
ffmpeg for FLV), Matroska and fragmented MP4 (ffmpeg's other containers). `--minutes`
of each (4) are made once under `bench/.cache/` (about 200 MB each).

CPU is this process's (`time.process_time`, every thread), best of `--rounds` (3)
per file, so another process's load counts as little as it can:

* before: main's probe, a full demux timing every packet (kept here verbatim as the
  baseline; srec no longer has it);
* after, checked: `check_file`, what the recording activity runs on a file no engine
  described (ffmpeg, streamlink, a file settled after a crash);
* after, native: what a native engine does per file (`ts_streams` on the first
  segment's bytes, `mp4_streams` on the init section, the FLV sequence headers).

    .venv/bin/python -m bench.segment_check [--minutes 4] [--segment-secs 60]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av

from activities.engines.flv.tags import FlvParser, FlvTag
from activities.engines.layout import (
    flv_audio,
    flv_video,
    mp4_init,
    mp4_streams,
    ts_streams,
)
from activities.media import check_file
from activities.tools import ffmpeg_executable
from bench.encode import CACHE_DIR, SourceMedia, ensure_source

log = logging.getLogger("bench.segment_check")

# the containers the engines write: name, ffmpeg muxer and options, extension
# (`activities.engines.remux.output`: ffmpeg's MP4 is fragmented)
FRAGMENTED = "movflags=+frag_keyframe+empty_moov+default_base_moof"
CONTAINERS = {
    "ts": ("mpegts", [], "ts"),
    "flv": ("flv", ["-bsf:a", "aac_adtstoasc"], "flv"),
    "mkv": ("matroska", [], "mkv"),
    "mp4": ("mp4", ["-segment_format_options", FRAGMENTED], "mp4"),
}
# a native engine describes a file from bytes it holds anyway; here they are read
# in chunks of this size until there is enough
CHUNK_BYTES = 64 * 1024
# the target: checking costs at most this many CPU-s per recorded minute (main's
# probe cost 0.25 in issue 7's measurement)
TARGET_CPU_PER_MINUTE = 0.01


def main_probe(path: Path) -> float | None:
    """main's `media.probe`: demux every packet to measure the duration."""
    with av.open(str(path)) as container:
        spans: dict[int, tuple[float, float]] = {}
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            first, last = spans.get(packet.stream.index, (start, end))
            spans[packet.stream.index] = (min(first, start), max(last, end))
    return max((last - first for first, last in spans.values()), default=None)


def native_read(path: Path) -> object:
    """What a native engine reads per file: the streams, from the file's head."""
    with path.open("rb") as handle:
        if path.suffix == ".ts":  # the engine has the first segment (2 s here)
            return ts_streams(handle.read(source_segment_bytes(path)))
        if path.suffix == ".mp4":  # the init section, before the first fragment
            init = mp4_init(handle.read(CHUNK_BYTES))
            return mp4_streams(init) if init is not None else None
        parser, video, audio = FlvParser(), None, None
        while video is None or audio is None:
            chunk = handle.read(CHUNK_BYTES)
            if not chunk:
                break
            for tag in parser.feed(chunk):
                if isinstance(tag, FlvTag) and tag.is_video and video is None:
                    video = flv_video(tag.data)
                elif isinstance(tag, FlvTag) and tag.is_audio and audio is None:
                    audio = flv_audio(tag.data)
        return video, audio


def source_segment_bytes(path: Path) -> int:
    """About one 2 s segment of the source stream."""
    return min(path.stat().st_size, 1_600_000)


def make_segments(
    source: SourceMedia, directory: Path, minutes: int, segment_secs: int
) -> dict[str, list[Path]]:
    """Cut `minutes` of the source into files of `segment_secs`, per container."""
    ffmpeg = ffmpeg_executable()
    assert ffmpeg is not None, "no ffmpeg"
    directory.mkdir(parents=True, exist_ok=True)
    listing = directory / "concat.txt"
    loops = -(-minutes * 60 // int(sum(source.durations)))
    listing.write_text(
        "".join(f"file '{p}'\n" for _ in range(loops) for p in source.segments)
    )
    made: dict[str, list[Path]] = {}
    for name, (muxer, options, ext) in CONTAINERS.items():
        files = sorted(directory.glob(f"{name}_*.{ext}"))
        if len(files) != minutes * 60 // segment_secs:
            for old in files:
                old.unlink()
            subprocess.run(
                [
                    *(str(ffmpeg), "-nostdin", "-v", "error", "-y"),
                    *("-f", "concat", "-safe", "0", "-i", str(listing)),
                    *("-t", str(minutes * 60), "-c", "copy", *options),
                    *("-f", "segment", "-segment_format", muxer),
                    *("-segment_time", str(segment_secs), "-reset_timestamps", "1"),
                    str(directory / f"{name}_%03d.{ext}"),
                ],
                check=True,
                timeout=600,
            )
            files = sorted(directory.glob(f"{name}_*.{ext}"))
        made[name] = files
    return made


def cpu_secs(check: Callable[[Path], object], files: list[Path], rounds: int) -> float:
    """CPU seconds of `check` over `files`, the best of `rounds` per file."""
    total = 0.0
    for path in files:
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            check(path)
            best = min(best, time.process_time() - started)
        total += best
    return total


def run(minutes: int, segment_secs: int, rounds: int) -> int:
    """Measure, print the table; 0 when the check is within its target."""
    source = ensure_source()
    directory = CACHE_DIR / f"segment-check-{minutes}m-{segment_secs}s"
    made = make_segments(source, directory, minutes, segment_secs)
    header = (
        f"{'container':<10}{'files':>6}{'min':>6}{'before':>10}{'checked':>10}"
        f"{'native':>10}{'ratio':>9}"
    )
    print(f"CPU-s per recorded minute, {segment_secs} s files, best of {rounds}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name, files in made.items():
        recorded = sum(main_probe(p) or 0.0 for p in files) / 60
        before = cpu_secs(main_probe, files, rounds) / recorded
        checked = cpu_secs(check_file, files, rounds) / recorded
        native = (
            f"{cpu_secs(native_read, files, rounds) / recorded:10.5f}"
            if name != "mkv"
            else f"{'-':>10}"
        )
        worst = max(worst, checked)
        print(
            f"{name:<10}{len(files):>6}{recorded:>6.1f}{before:>10.4f}{checked:>10.5f}"
            f"{native}{before / checked:>8.0f}x"
        )
    print("before: main's full demux; checked: media.check_file (ffmpeg, streamlink);")
    print("native: the engine's own read of the file's head; ratio: before / checked")
    if worst > TARGET_CPU_PER_MINUTE:
        print(f"missed: the check costs more than {TARGET_CPU_PER_MINUTE} CPU-s/min")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=4)
    parser.add_argument("--segment-secs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run(args.minutes, args.segment_secs, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
