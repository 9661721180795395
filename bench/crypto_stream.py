"""Benchmark: streaming encryption and decryption against `cat FILE > /dev/null`.

Usage: .venv/bin/python bench/crypto_stream.py [--size-mb 1024] [--segment-kib 1024]

Targets: at least 300 MB/s on one core each way, peak RSS growth at most 64 MB. MB = 10**6 bytes.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fieldvault.storage.crypto import (
    DEFAULT_SEGMENT_SIZE,
    decrypt_stream,
    encrypt_stream,
    generate_key,
)

TARGET_MBPS = 300.0
TARGET_RSS_MB = 64.0
MIB = 1024 * 1024


def make_file(path: Path, size_mb: int) -> int:
    # One random MiB, varied per block so no layer can deduplicate or compress it.
    block = bytearray(os.urandom(MIB))
    with path.open("wb") as f:
        for i in range(size_mb):
            block[:8] = i.to_bytes(8, "big")
            f.write(block)
    return size_mb * MIB


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def timed(label: str, size: int, fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    mbps = size / seconds / 1e6
    print(f"{label:<15} {size / 1e6:8.0f} MB in {seconds:6.2f} s = {mbps:8.0f} MB/s")
    return mbps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--segment-kib", type=int, default=DEFAULT_SEGMENT_SIZE // 1024)
    args = parser.parse_args()
    segment_size = args.segment_kib * 1024
    key = generate_key()

    with tempfile.TemporaryDirectory(prefix="fv-bench-") as tmp:
        plain = Path(tmp) / "plain.bin"
        sealed = Path(tmp) / "sealed.bin"
        size = make_file(plain, args.size_mb)
        os.sync()  # flush the test file first, so its writeback does not slow the encrypt timing
        subprocess.run(f"cat {plain} > /dev/null", shell=True, check=True)  # warm the cache

        def cat() -> None:
            subprocess.run(f"cat {plain} > /dev/null", shell=True, check=True)

        def encrypt() -> None:
            with plain.open("rb") as src, sealed.open("wb") as out:
                encrypt_stream(src, out, key, "bench-object", segment_size=segment_size)

        def copy() -> None:
            subprocess.run(f"cat {plain} > {Path(tmp) / 'copy.bin'}", shell=True, check=True)

        def encrypt_to_null() -> None:
            with plain.open("rb") as src, open(os.devnull, "wb") as out:
                encrypt_stream(src, out, key, "bench-object", segment_size=segment_size)

        def decrypt() -> None:
            with sealed.open("rb") as src:
                for _ in decrypt_stream(src, key, "bench-object"):
                    pass

        print(f"segment size {segment_size // 1024} KiB, cpus {os.cpu_count()}, one core used")
        rss_before = peak_rss_mb()
        cat_mbps = timed("cat", size, cat)
        copy_mbps = timed("cat > file", size, copy)
        (Path(tmp) / "copy.bin").unlink()
        os.sync()
        enc_mbps = timed("encrypt > file", size, encrypt)
        null_mbps = timed("encrypt > null", size, encrypt_to_null)
        dec_mbps = timed("decrypt", size, decrypt)
        growth = peak_rss_mb() - rss_before

    results = [
        (
            f"encrypt {null_mbps:.0f} MB/s ({null_mbps / cat_mbps:.2f}x cat); to a file "
            f"{enc_mbps:.0f} MB/s ({enc_mbps / copy_mbps:.2f}x cat > file)",
            null_mbps >= TARGET_MBPS,
        ),
        (f"decrypt {dec_mbps:.0f} MB/s ({dec_mbps / cat_mbps:.2f}x cat)", dec_mbps >= TARGET_MBPS),
        (f"peak RSS growth {growth:.1f} MB", growth <= TARGET_RSS_MB),
    ]
    print(f"targets: >= {TARGET_MBPS:.0f} MB/s each way, RSS growth <= {TARGET_RSS_MB:.0f} MB")
    for text, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
