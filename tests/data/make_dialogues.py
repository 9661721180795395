"""Two-voice dialogues for the diarization test: espeak-ng speaks each turn, and the generator
writes where each turn's speech starts and ends (the reference).

    .venv/bin/python tests/data/make_dialogues.py            # writes dialogue_*.ogg/.json here

Each turn is spoken by one of two espeak-ng voices (a male and a female variant of the same
language), trimmed to its speech (a -50 dBFS gate, so the reference holds speech, not espeak's
own lead-in silence), and joined with pauses of 0.25-1.2 s. The reference is exact in samples;
the Ogg/Opus encoding (PyAV, 24 kbit/s, ``encode_opus.py``) moves nothing in time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
RATE = 16000
GATE = 10 ** (-50 / 20)  # -50 dBFS: below it a 10 ms frame counts as silence
# Pauses between turns, cycled: real interviews have quick and slow hand-overs.
PAUSES_S = (0.6, 0.3, 1.0, 0.45, 0.8, 0.25, 1.2, 0.5)

# (voice, text) per turn; "A" asks, "B" answers. Short answers ("ja", "mm", "yes") on purpose.
DIALOGUES: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {
    "dialogue_en": (
        {"A": "en-us", "B": "en-gb-x-rp+f5"},
        [
            ("A", "Thank you for taking the time to talk with me today."),
            ("B", "Yes."),
            ("A", "Could you start by telling me a little about your work at the office?"),
            (
                "B",
                "I have worked there for about six years now. Most days I meet people who "
                "are looking for a job, and I help them write applications and plan the "
                "next steps.",
            ),
            ("A", "Mm."),
            ("B", "It is busy, but I like it."),
            ("A", "What does a normal week look like for you?"),
            (
                "B",
                "On Mondays we have a team meeting. After that I have appointments almost "
                "every hour, and on Fridays I try to write my reports.",
            ),
            ("A", "And do you feel that you have enough time for each person?"),
            ("B", "No, not really."),
            ("A", "Why not?"),
            (
                "B",
                "There are too many cases for each of us, so the conversations get shorter "
                "than they should be. Some people need much more help than others.",
            ),
            ("A", "I see. Thank you, that is very helpful."),
            ("B", "Mm."),
        ],
    ),
    "dialogue_nb": (
        {"A": "nb+m3", "B": "nb+f2"},
        [
            ("A", "Tusen takk for at du ville snakke med meg i dag."),
            ("B", "Ja."),
            ("A", "Kan du fortelle litt om hvordan du kom i kontakt med kontoret?"),
            (
                "B",
                "Jeg mistet jobben min i fjor høst, og da tok det noen uker før jeg fikk "
                "time hos en veileder. Det var en vanskelig tid for hele familien.",
            ),
            ("A", "Mm."),
            ("B", "Men det gikk seg til etter hvert."),
            ("A", "Hvordan opplevde du det første møtet?"),
            (
                "B",
                "Veilederen var vennlig og hørte på meg. Vi laget en plan sammen, og jeg "
                "fikk lov til å ta et kurs i regnskap.",
            ),
            ("A", "Hjalp kurset deg?"),
            ("B", "Ja, veldig."),
            ("A", "Har du noe du vil legge til før vi avslutter?"),
            (
                "B",
                "Nei, jeg tror jeg har sagt det meste. Det er fint at noen spør hvordan "
                "det egentlig er å være på den andre siden av bordet.",
            ),
            ("A", "Takk skal du ha."),
        ],
    ),
}


def speak(voice: str, text: str, folder: Path) -> npt.NDArray[np.float32]:
    """One turn from espeak-ng at 16 kHz mono, trimmed to its speech."""
    raw, resampled = folder / "raw.wav", folder / "turn.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", str(resampled)], check=True)
    with wave.open(str(resampled), "rb") as src:
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
    samples = pcm.astype(np.float32) / 32768
    frame = RATE // 100
    loud = [
        i
        for i in range(len(samples) // frame)
        if np.abs(samples[i * frame : (i + 1) * frame]).max() > GATE
    ]
    return samples[loud[0] * frame : (loud[-1] + 1) * frame]


def build(name: str, voices: dict[str, str], turns: list[tuple[str, str]]) -> None:
    """Write ``name``.ogg and ``name``.json (turns: start, end, speaker, text) in this folder."""
    parts: list[npt.NDArray[np.float32]] = [np.zeros(int(0.5 * RATE), np.float32)]
    reference = []
    at = len(parts[0])
    with tempfile.TemporaryDirectory() as tmp:
        for i, (who, text) in enumerate(turns):
            speech = speak(voices[who], text, Path(tmp))
            reference.append(
                {
                    "start": round(at / RATE, 3),
                    "end": round((at + len(speech)) / RATE, 3),
                    "speaker": who,
                    "text": text,
                }
            )
            pause = np.zeros(int(PAUSES_S[i % len(PAUSES_S)] * RATE), np.float32)
            parts += [speech, pause]
            at += len(speech) + len(pause)
        wav = Path(tmp) / f"{name}.wav"
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            pcm = np.clip(np.concatenate(parts), -1, 1) * 32767
            out.writeframes(pcm.astype("<i2").tobytes())
        encoder = HERE / "encode_opus.py"
        target = HERE / f"{name}.ogg"
        subprocess.run([sys.executable, str(encoder), str(wav), str(target)], check=True)
    document = {"voices": voices, "duration_s": round(at / RATE, 3), "turns": reference}
    (HERE / f"{name}.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")


def main() -> None:
    """Build every dialogue."""
    for name, (voices, turns) in DIALOGUES.items():
        build(name, voices, turns)
        print(name, (HERE / f"{name}.ogg").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
