"""Transcription benchmark: openai-whisper (reference) vs faster-whisper direct vs the pipeline.

One run, the same synthetic >= 5-minute English audio (the fixture clips concatenated),
the same base weights, beam 5, no conditioning on previous text. Each contender runs in its own
process so its peak RSS is its own. The pipeline is the whole fieldvault path: encrypted intake
-> queue -> decrypt -> decode -> transcribe -> encrypt -> store. faster-whisper direct is the
library called as its README shows (batched, VAD filter, its defaults) with word timestamps, as
the pipeline asks for them; it also runs once more without them, to show what they cost. The
WER of each against the reference and of the pipeline against faster-whisper direct are printed.

    .venv/bin/python bench/transcription.py [--minutes 5] [--skip-reference] [--device cuda]
    .venv/bin/python bench/transcription.py --diarization [--minutes 60]

``--diarization`` times each stage of a single-track two-voice interview in one process, as the
job runs them piece by piece (decode, VAD, transcribe, diarize; then speaker labels and the
pseudonymisation engine), with the peak RSS, and scores the speakers against the reference: the
recording is tests/data/dialogue_en.ogg (made by make_dialogues.py) repeated to ``--minutes``
and encoded as Ogg/Opus again, as a phone would send it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldvault.storage.db import transaction  # noqa: E402  (after the repository is on the path)
from tests.wer import wer  # noqa: E402

DATA = ROOT / "tests" / "data"
CLIPS = ("fidelity_en", "interview_en", "track_interviewer", "track_informant")


def build_audio(folder: Path, minutes: float) -> tuple[Path, float, str]:
    """Decode the English fixtures and concatenate them into one 16 kHz WAV of ``minutes``."""
    import numpy as np

    from fieldvault.media.decode import decode

    clips = []
    for name in CLIPS:
        samples = decode(io.BytesIO((DATA / f"{name}.ogg").read_bytes()))
        clips.append((samples, (DATA / f"{name}.txt").read_text().strip()))
    sequence, texts, total = [], [], 0.0
    while total < minutes * 60:
        for samples, text in clips:
            sequence.append(samples)
            texts.append(text)
            total += len(samples) / 16000
    target = folder / "long.wav"
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        pcm = np.clip(np.concatenate(sequence), -1.0, 1.0) * 32767
        out.writeframes(pcm.astype("<i2").tobytes())
    return target, total, " ".join(texts)


def build_dialogue(
    folder: Path, minutes: float
) -> tuple[Path, float, list[tuple[float, float, str]]]:
    """tests/data/dialogue_en.ogg repeated to ``minutes`` as Ogg/Opus, and its reference turns."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(DATA))
    from encode_opus import main as encode_opus  # type: ignore[import-not-found]

    from fieldvault.media.decode import decode
    from tests.diarization_eval import reference

    clip = decode(io.BytesIO((DATA / "dialogue_en.ogg").read_bytes()))
    turns = reference("dialogue_en")
    length = len(clip) / 16000
    copies = max(1, round(minutes * 60 / length))
    wav = folder / "dialogue.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        pcm = (np.clip(clip, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        for _ in range(copies):
            out.writeframes(pcm)
    target = folder / "dialogue.ogg"
    encode_opus(str(wav), str(target))
    wav.unlink()
    ref = [(a + i * length, b + i * length, who) for i in range(copies) for a, b, who in turns]
    return target, copies * length, ref


def child_stages(
    audio: Path, model_dir: Path, device: str, compute: str, batch_size: int, ref: Path
) -> dict[str, object]:
    """Each stage of a single-track job, timed in this one process, with the peak RSS."""
    from fieldvault.config.settings import load_settings
    from fieldvault.media.decode import decode_pieces
    from fieldvault.pseudonymise import pseudonymise_lines
    from fieldvault.workers.queue import build_diarizer, build_engine
    from fieldvault.workers.transcription import BATCHED_VAD, placed, speech_intervals
    from fieldvault.workers.turns import label_speakers
    from tests.diarization_eval import score

    settings = load_settings(
        environ={},
        model_dir=model_dir,
        whisper_device=device,
        whisper_compute_type=compute,
        whisper_batch_size=batch_size,
    )
    engine = build_engine(settings)
    diarizer = build_diarizer(settings)
    assert diarizer is not None
    stages = dict.fromkeys(("decode", "vad", "transcribe", "diarize", "pseudonymise"), 0.0)
    segments, after = [], 0.0
    listening = diarizer.listen()
    with audio.open("rb") as fh:
        pieces = decode_pieces(fh)
        while True:
            start = time.perf_counter()
            piece = next(pieces, None)
            stages["decode"] += time.perf_counter() - start
            if piece is None:
                break
            start = time.perf_counter()
            speech_intervals(piece.samples, options=BATCHED_VAD)
            stages["vad"] += time.perf_counter() - start
            start = time.perf_counter()
            result = engine.transcribe(piece.samples, "en")
            heard = list(placed(result.segments, piece.offset_s, after))
            after = max([after] + [s.end for s in heard])
            segments += heard
            stages["transcribe"] += time.perf_counter() - start
            start = time.perf_counter()
            listening.add(piece.samples, piece.offset_s)
            stages["diarize"] += time.perf_counter() - start
            # Progress on stderr, so a run cut short still tells how far it got and how fast.
            seen = piece.offset_s + piece.duration_s
            done = ", ".join(f"{k} {v:.0f} s" for k, v in stages.items())
            print(f"  to {seen / 60:.1f} min: {done}; RSS {peak_rss_mb():.0f} MB", file=sys.stderr)
            del piece
    start = time.perf_counter()
    turns = listening.turns(2)
    segments = label_speakers(segments, turns)
    stages["diarize"] += time.perf_counter() - start
    start = time.perf_counter()
    pseudonymise_lines([s.text for s in segments], language="en")
    stages["pseudonymise"] += time.perf_counter() - start
    reference_turns = [tuple(t) for t in json.loads(ref.read_text())]
    scores = score(reference_turns, [(t.start, t.end, t.speaker) for t in turns])
    return {
        "stages": stages,
        "rss_mb": peak_rss_mb(),
        "text": " ".join(s.text for s in segments),
        "confusion": scores.confusion,
        "der": scores.der,
        "median_boundary_s": scores.median_boundary_error,
        "speakers": sorted({s.speaker for s in segments}),
    }


def run_diarization_bench(args: argparse.Namespace) -> None:
    """The 60-minute single-track interview, stage by stage (see the module docstring)."""
    from fieldvault.workers import weights

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_dir = folder / "models"
        weights.install("base", model_dir)
        audio, duration, ref = build_dialogue(folder, args.minutes)
        ref_path = folder / "reference.json"
        ref_path.write_text(json.dumps(ref))
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "stages",
            "--audio",
            str(audio),
            "--model-dir",
            str(model_dir),
            "--device",
            args.device,
            "--compute-type",
            args.compute_type,
            "--batch-size",
            str(args.batch_size),
            "--reference",
            str(ref_path),
        ]
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        start = time.perf_counter()
        print(f"audio ready ({duration / 60:.1f} min); stages:", file=sys.stderr, flush=True)
        out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"single-track two-voice interview {duration / 60:.1f} min (Ogg/Opus), "
        f"{os.cpu_count()} CPU(s), base {args.compute_type}, batch {args.batch_size}"
    )
    total = 0.0
    for stage, seconds in result["stages"].items():
        total += seconds
        print(f"  {stage:13} {seconds:8.1f} s")
    print(f"  {'all stages':13} {total:8.1f} s (target <= 360 s); process {wall:.1f} s with loads")
    print(f"  peak RSS {result['rss_mb']:.0f} MB (target <= 2048 MB)")
    print(
        f"  speakers {result['speakers']}: wrong speaker {result['confusion']:.2%}, "
        f"DER {result['der']:.2%}, median boundary error {result['median_boundary_s']:.2f} s"
    )
    print("  (VAD is measured apart; transcribe and diarize each run their own VAD too)")


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_openai(audio: Path, model_dir: Path, device: str) -> dict[str, object]:
    """openai-whisper on the converted checkpoint: fp32 on CPU (fp16 on CUDA)."""
    import torch
    import whisper

    from fieldvault.media.decode import decode

    torch.set_num_threads(os.cpu_count() or 1)
    model = whisper.load_model(str(model_dir / "base" / "openai-whisper.pt"), device=device)
    start = time.perf_counter()
    samples = decode(io.BytesIO(audio.read_bytes()))
    result = model.transcribe(
        samples,
        language="en",
        beam_size=5,
        condition_on_previous_text=False,
        fp16=device == "cuda",
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "text": result["text"], "rss_mb": peak_rss_mb()}


def child_faster(
    audio: Path, model_dir: Path, device: str, compute: str, batch_size: int, words: bool = True
) -> dict[str, object]:
    """faster-whisper called directly with its own defaults (batched unless 0), beam 5."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(str(model_dir / "base"), device=device, compute_type=compute)
    start = time.perf_counter()
    if batch_size > 0:
        segments, _ = BatchedInferencePipeline(model).transcribe(
            str(audio),
            language="en",
            beam_size=5,
            vad_filter=True,
            batch_size=batch_size,
            word_timestamps=words,
        )
    else:
        segments, _ = model.transcribe(
            str(audio),
            language="en",
            beam_size=5,
            vad_filter=True,
            condition_on_previous_text=False,
            word_timestamps=words,
        )
    text = " ".join(s.text.strip() for s in segments)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "text": text, "rss_mb": peak_rss_mb()}


def child_pipeline(
    audio: Path, model_dir: Path, device: str, compute: str, batch_size: int
) -> dict[str, object]:
    """The full fieldvault path on a fresh embedded (SQLite) installation."""
    from fieldvault.config.settings import load_settings
    from fieldvault.config.study import load_study
    from fieldvault.domain import consent, studies
    from fieldvault.domain.participants import get_participant
    from fieldvault.domain.recordings import accept_recording, read_transcripts
    from fieldvault.storage.services import initialise, open_services
    from fieldvault.workers.queue import Worker, build_engine, build_huey

    now = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)
    example = ROOT / "fieldvault" / "config" / "examples" / "nav-veileder.toml"
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={},
            data_dir=Path(tmp) / "data",
            model_dir=model_dir,
            whisper_device=device,
            whisper_compute_type=compute,
            whisper_batch_size=batch_size,
        )
        initialise(settings)
        services = open_services(settings)
        definition = load_study(example)
        with transaction(services.research) as session:
            studies.register_study(session, definition, example.read_text("utf-8"), now)
            [invite] = consent.create_invites(session, definition.id, 1, dt.timedelta(days=7), now)
        with transaction(services.research) as session:
            code = consent.redeem_invite(session, invite, now).code
        with transaction(services.research) as session:
            person = get_participant(session, definition.id, code)
            consent.mark_informed(session, person, "nb", now)
            consent.record_consent(
                session,
                person,
                {"interview-recording": True, "identifiable-publication": False},
                language="nb",
                channel="paper",
                letter_delivered_at=now,
                now=now,
                how={"researcher": "bench"},
            )
        worker = Worker(services, build_huey(settings), lambda: build_engine(settings))
        worker.engine()  # model load is not part of the timed path, as for the direct runs
        start = time.perf_counter()
        with audio.open("rb") as fh:
            accept_recording(
                services,
                study_id=definition.id,
                code=code,
                files=[(audio.name, fh)],
                language="en",
                source="cli",
                now=now,
            )
        intake = time.perf_counter() - start
        worker.run(until_idle=True, poll_s=0.05)
        seconds = time.perf_counter() - start
        with transaction(services.research) as session:
            [doc] = read_transcripts(session, services.content, definition.id, code)
        services.close()
    text = " ".join(s["text"] for s in doc["segments"])
    return {"seconds": seconds, "intake_s": intake, "text": text, "rss_mb": peak_rss_mb()}


def run_child(mode: str, args: argparse.Namespace, audio: Path, model_dir: Path) -> dict:
    """Run one contender in a fresh process and return its JSON line."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--audio",
        str(audio),
        "--model-dir",
        str(model_dir),
        "--device",
        args.device,
        "--compute-type",
        args.compute_type,
        "--batch-size",
        str(0 if mode == "sequential" else args.batch_size),
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Prepare audio and model, run each contender, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument(
        "--batch-size", type=int, default=6, help="faster-whisper batch (0 = sequential)."
    )
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--pipeline-only", action="store_true", help="Only the pipeline (e.g. RSS of 60 min)."
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of faster-whisper and pipeline (median)."
    )
    parser.add_argument(
        "--diarization", action="store_true", help="Stages of a two-voice single-track job."
    )
    parser.add_argument("--child")
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--reference", type=Path)
    args = parser.parse_args()
    if args.diarization and not args.child:
        run_diarization_bench(args)
        return
    if args.child:
        if args.child == "stages":
            result = child_stages(
                args.audio,
                args.model_dir,
                args.device,
                args.compute_type,
                args.batch_size,
                args.reference,
            )
        elif args.child == "openai":
            result = child_openai(args.audio, args.model_dir, args.device)
        elif args.child in {"faster", "sequential", "no-words"}:
            result = child_faster(
                args.audio,
                args.model_dir,
                args.device,
                args.compute_type,
                args.batch_size,
                words=args.child != "no-words",
            )
        else:
            result = child_pipeline(
                args.audio, args.model_dir, args.device, args.compute_type, args.batch_size
            )
        print(json.dumps(result))
        return

    from fieldvault.workers import weights

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_dir = folder / "models"
        weights.install("base", model_dir)
        audio, duration, reference = build_audio(folder, args.minutes)
        print(
            f"audio {duration:.0f} s ({duration / 60:.1f} min), {os.cpu_count()} CPU(s), "
            f"device {args.device}, faster-whisper compute {args.compute_type}, beam 5, "
            f"batch {args.batch_size}"
        )
        results = {}
        if not (args.skip_reference or args.pipeline_only):
            results["openai"] = run_child("openai", args, audio, model_dir)
            print(f"  openai: {results['openai']['seconds']:.1f} s", flush=True)
            if args.batch_size > 0:  # once, to show what batching gains
                results["sequential"] = run_child("sequential", args, audio, model_dir)
                print(f"  sequential: {results['sequential']['seconds']:.1f} s", flush=True)
        runs: dict[str, list[dict]] = {"pipeline": []}
        if not args.pipeline_only:
            runs = {"faster": [], "no-words": [], "pipeline": []}
        # Interleaved and repeated: on a shared 2-core machine one run varies by +-15 %.
        for _ in range(args.repeat):
            for mode in runs:
                runs[mode].append(run_child(mode, args, audio, model_dir))
                print(f"  {mode}: {runs[mode][-1]['seconds']:.1f} s", flush=True)
        for mode, done in runs.items():
            median = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]
            results[mode] = dict(median, rss_mb=max(r["rss_mb"] for r in done))
    labels = {
        "openai": "openai-whisper (reference)",
        "sequential": f"faster-whisper {args.compute_type}, unbatched",
        "faster": f"faster-whisper {args.compute_type}, direct",
        "no-words": "  the same without word timestamps",
        "pipeline": "fieldvault pipeline",
    }
    print(
        f"\n{'contender':34} {'time s':>8} {'RTF':>7} {'x realtime':>10} {'RSS MB':>8} {'WER':>6}"
    )
    for mode, r in results.items():
        rtf = r["seconds"] / duration
        print(
            f"{labels[mode]:34} {r['seconds']:8.1f} {rtf:7.3f} {1 / rtf:10.1f} "
            f"{r['rss_mb']:8.0f} {wer(reference, r['text']):6.3f}"
        )
    if args.pipeline_only:
        return
    direct, pipeline = results["faster"]["seconds"], results["pipeline"]["seconds"]
    print(f"\n(median of {args.repeat} interleaved runs for faster-whisper and the pipeline)")
    print(f"pipeline / faster-whisper direct: {pipeline / direct:.2f}x (target <= 1.10)")
    fidelity = wer(results["faster"]["text"], results["pipeline"]["text"])
    print(f"WER of the pipeline against faster-whisper direct: {fidelity:.4f} (target <= 0.01)")
    plain = results["no-words"]["seconds"]
    print(f"word timestamps cost faster-whisper: {direct / plain:.2f}x its time without them")
    print(f"  of which encrypted intake (encrypt + probe): {results['pipeline']['intake_s']:.1f} s")
    if "openai" in results:
        ref = results["openai"]["seconds"]
        print(f"openai-whisper / faster-whisper direct: {ref / direct:.1f}x")
        print(f"openai-whisper / pipeline: {ref / pipeline:.1f}x (target >= 5)")


if __name__ == "__main__":
    main()
