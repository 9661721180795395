#!/usr/bin/env bash
# Regenerates fidelity_en.ogg and turns_*.ogg / turns.tsv (see README.md). Needs espeak-ng, sox
# and the project venv (PyAV encodes Opus). Run from anywhere:
#   bash tests/data/make_fidelity_clips.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-$here/../../.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fidelity_en: each sentence of fidelity_en.txt spoken alone, followed by pauses of varying
# length, so that VAD chunks and the batched pipeline's 30 s groups fall in different places.
pauses=(0.5 1.2 0.3 2.5 0.8 1.6 0.4 3.0 1.0)
i=0
parts=()
while IFS= read -r line; do
  espeak-ng -v en-us -s 145 -w "$tmp/s$i.wav" "$line"
  sox "$tmp/s$i.wav" -r 16000 -c 1 "$tmp/p$i.wav" pad 0 "${pauses[$i]}"
  parts+=("$tmp/p$i.wav")
  i=$((i + 1))
done < "$here/fidelity_en.txt"
sox "${parts[@]}" "$tmp/fidelity_en.wav" pad 0.6 0
"$py" "$here/encode_opus.py" "$tmp/fidelity_en.wav" "$here/fidelity_en.ogg" 16000

# turns_*: a two-track interview (one voice per track, silent while the other speaks). Each
# turn follows a silence of 0.8-3.5 s, after which Whisper's own segment start comes early.
# turns.tsv records where each turn truly starts and ends (track, start_s, end_s, text).
gaps=(0.8 2.5 1.0 3.5 0.9 1.5 1.2 3.0)
clock=0.6
: > "$tmp/turns.tsv"
i=0
sox -n -r 16000 -c 1 "$tmp/silence.wav" trim 0 0.6
cp "$tmp/silence.wav" "$tmp/interviewer.wav"
cp "$tmp/silence.wav" "$tmp/informant.wav"
while IFS=$'\t' read -r who text; do
  voice=en-us
  [ "$who" = informant ] && voice=en-gb
  other=informant
  [ "$who" = informant ] && other=interviewer
  espeak-ng -v "$voice" -s 150 -w "$tmp/t.wav" "$text"
  sox "$tmp/t.wav" -r 16000 -c 1 "$tmp/turn.wav" pad 0 "${gaps[$i]}"
  length="$(soxi -D "$tmp/turn.wav")"
  speech="$(soxi -D "$tmp/t.wav")"
  sox -n -r 16000 -c 1 "$tmp/quiet.wav" trim 0 "$length"
  sox "$tmp/$who.wav" "$tmp/turn.wav" "$tmp/next.wav" && mv "$tmp/next.wav" "$tmp/$who.wav"
  sox "$tmp/$other.wav" "$tmp/quiet.wav" "$tmp/next.wav" && mv "$tmp/next.wav" "$tmp/$other.wav"
  printf '%s\t%.2f\t%.2f\t%s\n' "$who" "$clock" "$(echo "$clock + $speech" | bc -l)" "$text" \
    >> "$tmp/turns.tsv"
  clock="$(echo "$clock + $length" | bc -l)"
  i=$((i + 1))
done < "$here/turns.txt"
cp "$tmp/turns.tsv" "$here/turns.tsv"
for who in interviewer informant; do
  "$py" "$here/encode_opus.py" "$tmp/$who.wav" "$here/turns_$who.ogg" 16000
done
ls -l "$here"/fidelity_en.ogg "$here"/turns_*.ogg
