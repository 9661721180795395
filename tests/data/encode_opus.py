"""Encode a WAV file as Ogg/Opus (like a Telegram voice note) with PyAV: encode_opus.py IN OUT [BPS]."""

from __future__ import annotations

import sys

import av


def main(src: str, dst: str, bit_rate: int = 24000) -> None:
    with av.open(src) as inp, av.open(dst, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in inp.decode(audio=0):
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            out.mux(stream.encode(converted))
        out.mux(stream.encode(None))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
