"""CPU seconds per recorded minute: native vs `ffmpeg -c copy` vs streamlink vs curl.

For each stream (HLS, then HTTP-FLV) a fresh `LiveSource` starts and the recorders
run side by side, as child processes, for the same wall time; then each gets SIGINT
and finalises its file. Every recorder runs under `bench.measure`, so its CPU is
that of its whole process tree (user + system, from rusage), and its output is
probed with PyAV: recorded minutes = video frames / frame rate, which neither a gap
nor a timestamp jump can inflate.

* native: `srec record URL --out DIR --engine native` (`--native-cmd` replaces the
  `srec record` part while that command does not exist);
* ffmpeg: `ffmpeg -i URL -c copy -f mpegts|flv OUT`;
* streamlink: `streamlink hls://URL best -o OUT` (FLV: `httpstream://URL`);
* curl, the byte-copy floor: FLV, `curl -o OUT URL`; HLS, a single `curl` given the
  segment URLs as a range (`seg/[N-M].ts`) from the live edge on, writing them in
  order to one file over one keep-alive connection. The source holds back a request
  for a segment that is not published yet, so curl records live, paced by the
  server, with no polling process beside it (which would cost more than curl).

Two figures per recorder: `cpu/min`, all CPU (start-up, initial window, finalising)
over recorded minutes; and `steady/min`, the CPU between the end of `--warmup` and
the stop, over that wall time (a live recorder records one minute per minute), which
is what a recording that runs for hours costs.

    .venv/bin/python -m bench.engines_cpu [--secs 60] [--streams hls,flv]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from activities.tools import ffmpeg_executable, find_executable
from bench.encode import SourceMedia, ensure_source
from bench.measure import machine_busy, tree_cpu_secs
from bench.source import LiveSource

log = logging.getLogger("bench.engines_cpu")

REPO = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECS = 30.0
MEDIA_SUFFIXES = {".ts", ".flv", ".mp4", ".mkv"}
TARGET_VS_FFMPEG = 1.0
TARGET_VS_STREAMLINK = 0.3


@dataclass
class Recorder:
    """One recorder process and what it cost."""

    name: str
    cmd: list[str]
    out_dir: Path
    stdout_file: Path | None = None
    # srec's recorders must finalise and exit 0 on SIGINT; the others exit 130/255
    clean_exit: bool = False
    proc: subprocess.Popen[bytes] | None = None
    cpu_marks: list[tuple[float, float]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    media_secs: float = 0.0
    note: str = ""

    @property
    def result_file(self) -> Path:
        return self.out_dir.with_suffix(".usage.json")

    @property
    def log_file(self) -> Path:
        return self.out_dir.with_suffix(".log")

    @property
    def cpu_secs(self) -> float:
        return float(self.usage.get("user_secs", 0.0)) + float(
            self.usage.get("system_secs", 0.0)
        )

    @property
    def cpu_per_min(self) -> float | None:
        if self.media_secs <= 0 or not self.usage:
            return None
        return self.cpu_secs / (self.media_secs / 60)

    @property
    def steady_per_min(self) -> float | None:
        if len(self.cpu_marks) < 2:
            return None
        (t0, c0), (t1, c1) = self.cpu_marks[0], self.cpu_marks[-1]
        return (c1 - c0) / ((t1 - t0) / 60) if t1 > t0 else None

    def start(self, env: dict[str, str]) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        wrapper = [sys.executable, "-m", "bench.measure", str(self.result_file), "--"]
        with self.log_file.open("wb") as log_out:
            stdout = self.stdout_file.open("wb") if self.stdout_file else log_out
            try:
                self.proc = subprocess.Popen(
                    wrapper + self.cmd,
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=log_out,
                    start_new_session=True,
                )
            finally:
                if stdout is not log_out:
                    stdout.close()

    def mark(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.cpu_marks.append((time.monotonic(), tree_cpu_secs(self.proc.pid)))

    def interrupt(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)

    def wait(self, deadline: float) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.note = "killed: did not stop on SIGINT"
            kill_group(proc)
        if self.result_file.is_file():
            self.usage = json.loads(self.result_file.read_text())
            code = self.usage.get("exit_code")
            if self.clean_exit and code != 0:
                self.note = self.note or f"exit code {code}"

    def outputs(self) -> list[Path]:
        return sorted(p for p in self.out_dir.rglob("*") if p.suffix in MEDIA_SUFFIXES)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a recorder's whole process group and reap the wrapper."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def video_frames(path: Path) -> int:
    """Video packets in a file (one per frame for H.264 in TS and FLV)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            stream = container.streams.video[0]
            return sum(1 for p in container.demux(stream) if p.size)
    except (av.error.FFmpegError, OSError) as err:
        log.warning("cannot probe %s: %s", path, err)
        return 0


def recorders_for(
    kind: str,
    live: LiveSource,
    work: Path,
    natives: dict[str, list[str]],
) -> tuple[list[Recorder], list[str]]:
    """The recorders of one stream, and notes on those that cannot run."""
    notes: list[str] = []
    ext = "ts" if kind == "hls" else "flv"
    url = live.hls_url if kind == "hls" else live.flv_url
    d = work / kind
    recorders = [
        Recorder(
            name,
            [*cmd, url(name), "--out", str(d / name), "--engine", "native"],
            d / name,
            clean_exit=True,
        )
        for name, cmd in natives.items()
    ]
    ffmpeg = ffmpeg_executable()
    if ffmpeg is None:
        notes.append("ffmpeg: not found, skipped")
    else:
        fmt = "mpegts" if kind == "hls" else "flv"
        recorders.append(
            Recorder(
                "ffmpeg",
                [
                    *(str(ffmpeg), "-nostdin", "-hide_banner", "-loglevel", "error"),
                    *("-i", url("ffmpeg"), "-c", "copy", "-f", fmt),
                    str(d / "ffmpeg" / f"out.{ext}"),
                ],
                d / "ffmpeg",
            )
        )
    streamlink = find_executable("streamlink")
    if streamlink is None:
        notes.append("streamlink: not found, skipped")
    else:
        scheme = "hls://" if kind == "hls" else "httpstream://"
        recorders.append(
            Recorder(
                "streamlink",
                [
                    *(str(streamlink), "--loglevel", "warning", "--force"),
                    *("--output", str(d / "streamlink" / f"out.{ext}")),
                    *(scheme + url("streamlink"), "best"),
                ],
                d / "streamlink",
            )
        )
    curl = shutil.which("curl")
    if curl is None:
        notes.append("curl: not on PATH, the byte-copy floor is skipped")
    elif kind == "hls":
        first = max(0, live.live_last() - 2)  # the live edge ffmpeg/streamlink use
        glob = f"{live.base_url}/hls/curl/seg/[{first}-999999].ts"
        recorders.append(
            Recorder("curl", [curl, "-s", glob], d / "curl", d / "curl" / "out.ts")
        )
    else:
        recorders.append(
            Recorder(
                "curl",
                [curl, "-s", "-o", str(d / "curl" / "out.flv"), url("curl")],
                d / "curl",
            )
        )
    return recorders, notes


@dataclass
class Phase:
    """One stream's run: its recorders and the machine's load meanwhile."""

    kind: str
    recorders: list[Recorder]
    notes: list[str]
    wall_secs: float = 0.0
    machine_cores_busy: float = 0.0
    loadavg: str = ""


def run_phase(
    kind: str,
    media: SourceMedia,
    work: Path,
    args: argparse.Namespace,
) -> Phase:
    """Run every recorder of one stream side by side and measure them."""
    # the native recorder and bench.measure import from the repository
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    with LiveSource(media) as live:
        natives = {"native": args.native_cmd, **dict(args.also)}
        recorders, notes = recorders_for(kind, live, work, natives)
        phase = Phase(kind, recorders, notes)
        busy0, total0 = machine_busy()
        started = time.monotonic()
        try:
            for rec in recorders:
                rec.start(env)
            time.sleep(args.warmup)
            for rec in recorders:
                rec.mark()
            time.sleep(max(0.0, args.secs - args.warmup))
            for rec in recorders:
                rec.mark()
            busy1, total1 = machine_busy()
            phase.wall_secs = time.monotonic() - started
            phase.machine_cores_busy = (
                (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)
            )
            phase.loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            for rec in recorders:
                rec.interrupt()
            deadline = time.monotonic() + STOP_TIMEOUT_SECS
            for rec in recorders:
                rec.wait(deadline)
        finally:
            for rec in recorders:
                if rec.proc is not None and rec.proc.poll() is None:
                    kill_group(rec.proc)
    for rec in recorders:
        frames = sum(video_frames(p) for p in rec.outputs())
        rec.media_secs = frames / media.spec.fps
        if frames == 0 and not rec.note:
            rec.note = f"no video recorded; see {rec.log_file}"
    return phase


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _versus(rec: Recorder, base: Recorder | None) -> str:
    """`rec`'s cost relative to `base`: all CPU / steady state."""
    if base is None:
        return "-"
    return (
        f"{_ratio(rec.cpu_per_min, base.cpu_per_min)}"
        f"/{_ratio(rec.steady_per_min, base.steady_per_min)}"
    )


def _target(native: Recorder, base: Recorder, target: float) -> tuple[bool, str]:
    """Whether native costs at most `target` times `base`, on both figures."""
    met = True
    checks = []
    for what, value, ref in (
        ("all CPU", native.cpu_per_min, base.cpu_per_min),
        ("steady", native.steady_per_min, base.steady_per_min),
    ):
        ok = value is not None and ref is not None and value <= target * ref
        met = met and ok
        checks.append(f"{what} {'met' if ok else 'MISSED'}")
    return met, ", ".join(checks)


def report(phases: list[Phase], media: SourceMedia, args: argparse.Namespace) -> bool:
    """Print one table per stream; return whether native met both targets."""
    cores = os.cpu_count() or 1
    met = True
    print(
        f"\nsource: {media.spec.width}x{media.spec.height}@{media.spec.fps} "
        f"{media.bitrate_bps / 1e6:.2f} Mbps; {args.secs:.0f} s per stream, "
        f"steady state after {args.warmup:.0f} s; {cores} cores"
    )
    for phase in phases:
        by_name = {r.name: r for r in phase.recorders}
        ffmpeg, streamlink = by_name.get("ffmpeg"), by_name.get("streamlink")
        print(
            f"\n{phase.kind.upper()}: machine {phase.machine_cores_busy:.2f} of "
            f"{cores} cores busy (every process), load average {phase.loadavg}"
        )
        header = (
            f"{'recorder':<11}{'rec-min':>8}{'cpu-s':>7}{'cpu/min':>8}"
            f"{'steady/min':>11}{'x ffmpeg':>13}{'x streamlink':>13}{'MB rss':>7}"
            "  note"
        )
        print(header)
        print("-" * len(header))
        for rec in phase.recorders:
            rss = rec.usage.get("max_rss_kib")
            print(
                f"{rec.name:<11}{rec.media_secs / 60:>8.2f}{rec.cpu_secs:>7.2f}"
                f"{_fmt(rec.cpu_per_min):>8}{_fmt(rec.steady_per_min):>11}"
                f"{_versus(rec, ffmpeg):>13}{_versus(rec, streamlink):>13}"
                f"{_fmt(rss / 1024 if rss else None, 0):>7}  {rec.note}"
            )
        print("(x ffmpeg, x streamlink: all CPU / steady state)")
        for note in phase.notes:
            print(f"note: {note}")
        native = by_name.get("native")
        if native is None or native.note:
            met = False
            continue
        for base, target in (
            (ffmpeg, TARGET_VS_FFMPEG),
            (streamlink, TARGET_VS_STREAMLINK),
        ):
            if base is not None:
                ok, text = _target(native, base, target)
                met = met and ok
                print(f"target native <= {target}x {base.name}: {text}")
    return met


def native_available(cmd: list[str]) -> bool:
    """Whether the native recorder command answers `--help`."""
    try:
        done = subprocess.run(
            [*cmd, "--help"],
            cwd=REPO,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _named_cmd(text: str) -> tuple[str, list[str]]:
    name, sep, cmd = text.partition("=")
    if not sep or not re.fullmatch(r"[a-z0-9_+-]+", name) or not cmd.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=CMD, got {text!r}")
    return name, shlex.split(cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 when native met its targets, 1 when not."""
    parser = argparse.ArgumentParser(prog="python -m bench.engines_cpu")
    parser.add_argument("--secs", type=float, default=60.0, help="wall time per stream")
    parser.add_argument(
        "--warmup", type=float, default=15.0, help="start-up excluded from steady/min"
    )
    parser.add_argument("--streams", default="hls,flv", help="hls, flv or both")
    parser.add_argument(
        "--native-cmd",
        type=shlex.split,
        default=[sys.executable, "-m", "worker.cli", "record"],
        help="the native recorder up to its URL argument (default: srec record)",
    )
    parser.add_argument(
        "--also",
        type=_named_cmd,
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="another native recorder to compare, like --native-cmd (repeatable)",
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="keep outputs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.warmup >= args.secs:
        parser.error("--warmup must be shorter than --secs")
    if not native_available(args.native_cmd):
        parser.error(
            f"{shlex.join(args.native_cmd)} --help failed: is `srec record` there "
            "yet? Pass --native-cmd to use another native recorder."
        )
    media = ensure_source()
    work_root = args.work_dir or Path(tempfile.mkdtemp(prefix="srec-bench-cpu-"))
    phases: list[Phase] = []
    try:
        for kind in args.streams.split(","):
            log.info("%s: recording for %.0f s", kind, args.secs)
            phases.append(run_phase(kind.strip(), media, work_root, args))
    except KeyboardInterrupt:
        log.warning("interrupted; every recorder was killed")
        return 130
    finally:
        if args.work_dir is None:
            shutil.rmtree(work_root, ignore_errors=True)
    return 0 if report(phases, media, args) else 1


if __name__ == "__main__":
    sys.exit(main())
