#!/usr/bin/env bash
# Regenerates the speech fixtures in this folder (see README.md). Needs espeak-ng, sox and the
# project venv (PyAV encodes Opus, which this sox build cannot write). Run from anywhere:
#   bash tests/data/make_clips.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-$here/../../.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say() {  # say VOICE TEXTFILE OUT.wav — speak at a calm rate, 16 kHz mono, 0.4 s of silence around
  espeak-ng -v "$1" -s 145 -f "$2" -w "$tmp/raw.wav"
  sox "$tmp/raw.wav" -r 16000 -c 1 "$3" pad 0.4 0.4
}

say en-us "$here/interview_en.txt" "$tmp/interview_en.wav"
say nb "$here/interview_no.txt" "$tmp/interview_no.wav"
# Two per-speaker tracks of one conversation, like Zoom's "record a separate audio file for each
# participant": each track holds one voice and silence while the other one speaks.
say en-us "$here/track_interviewer.txt" "$tmp/a.wav"
say en-gb "$here/track_informant.txt" "$tmp/b.wav"
da="$(soxi -D "$tmp/a.wav")"
db="$(soxi -D "$tmp/b.wav")"
sox "$tmp/a.wav" "$tmp/track_interviewer.wav" pad 0 "$db"
sox "$tmp/b.wav" "$tmp/track_informant.wav" pad "$da" 0

for name in interview_en interview_no track_interviewer track_informant; do
  "$py" "$here/encode_opus.py" "$tmp/$name.wav" "$here/$name.ogg"
done
ls -l "$here"/*.ogg
