from __future__ import annotations

import io
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fieldvault.errors import FieldvaultError
from fieldvault.storage.crypto import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    CryptoError,
    DecryptionError,
    decrypt_stream,
    encrypt_stream,
    generate_key,
    open_sealed,
    seal,
    seal_with,
    unwrap_key,
    wrap_key,
)

MESSAGE = "the data could not be decrypted: it is damaged, was shredded, or the key is wrong"
SEG = 64  # a small segment size keeps the tamper tests readable and fast
OID = "object-aaaaaaaa"
KEY = bytes(range(32))


# --- helpers ------------------------------------------------------------------------------------


def encrypt(data: bytes, key: bytes = KEY, object_id: str = OID, segment_size: int = SEG) -> bytes:
    out = io.BytesIO()
    info = encrypt_stream([data], out, key, object_id, segment_size=segment_size)
    assert info.plaintext_size == len(data)
    assert info.ciphertext_size == len(out.getvalue())
    return out.getvalue()


def decrypt(token: bytes, key: bytes = KEY, object_id: str = OID) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(token), key, object_id))


def split(token: bytes, segment_size: int = SEG) -> tuple[bytes, list[bytes]]:
    """The header and the sealed segments of a stream."""
    block = segment_size + TAG_SIZE
    body = token[HEADER_SIZE:]
    return token[:HEADER_SIZE], [body[i : i + block] for i in range(0, len(body), block)]


def assert_rejected(token: bytes, key: bytes = KEY, object_id: str = OID) -> None:
    with pytest.raises(DecryptionError) as caught:
        decrypt(token, key, object_id)
    assert str(caught.value) == MESSAGE


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def pattern(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


# --- small objects ------------------------------------------------------------------------------


def test_generated_keys_are_32_random_bytes() -> None:
    keys = {generate_key() for _ in range(16)}
    assert len(keys) == 16
    assert all(len(k) == 32 for k in keys)


def test_seal_with_matches_the_published_aes_256_gcm_vectors() -> None:
    # McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14.
    zero_key, zero_nonce = bytes(32), bytes(12)
    assert seal_with(zero_key, b"", b"", nonce=zero_nonce) == bytes.fromhex(
        "01" + "00" * 12 + "530f8afbc74536b9a963b4f1c4cb738b"
    )
    assert seal_with(zero_key, bytes(16), b"", nonce=zero_nonce) == bytes.fromhex(
        "01" + "00" * 12 + "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"
    )


def test_seal_with_matches_a_known_answer_with_associated_data() -> None:
    nonce = bytes(range(100, 112))
    plaintext = b"Kari, NAV-kontor A"
    ad = b"fieldvault/identity/study-1/P01"
    expected = bytes.fromhex(
        "01"
        "6465666768696a6b6c6d6e6f"
        "037aac0f55c918df684f3487b411058f628396aa7f435674cd4be04df5fb76e46f2c"
    )
    assert seal_with(KEY, plaintext, ad, nonce=nonce) == expected
    # The vector was computed once with AESGCM directly; the token is version | nonce | ct+tag.
    assert expected[13:] == AESGCM(KEY).encrypt(nonce, plaintext, ad)
    assert open_sealed(KEY, expected, ad) == plaintext


def test_seal_round_trips_and_never_repeats_a_token() -> None:
    first = seal(KEY, b"identity", b"ad")
    second = seal(KEY, b"identity", b"ad")
    assert first != second
    assert open_sealed(KEY, first, b"ad") == open_sealed(KEY, second, b"ad") == b"identity"


@pytest.mark.parametrize(
    "change",
    [
        "other associated data",
        "wrong key",
        "flipped version",
        "flipped nonce",
        "flipped ciphertext",
        "flipped tag",
        "truncated",
        "empty",
    ],
)
def test_a_bad_sealed_token_is_rejected_with_the_same_message(change: str) -> None:
    token = seal(KEY, b"Eva, 0412 34 567", b"study-1/P02")
    key, ad = KEY, b"study-1/P02"
    if change == "other associated data":
        ad = b"study-1/P03"
    elif change == "wrong key":
        key = generate_key()
    elif change == "flipped version":
        token = flip(token, 0)
    elif change == "flipped nonce":
        token = flip(token, 5)
    elif change == "flipped ciphertext":
        token = flip(token, 14)
    elif change == "flipped tag":
        token = flip(token, len(token) - 1)
    elif change == "truncated":
        token = token[:-1]
    else:
        token = b""
    with pytest.raises(DecryptionError) as caught:
        open_sealed(key, token, ad)
    assert str(caught.value) == MESSAGE
    assert "Eva" not in repr(caught.value)


def test_a_key_of_the_wrong_size_is_a_usage_error_not_a_decryption_error() -> None:
    with pytest.raises(CryptoError) as caught:
        seal(b"short", b"x", b"")
    assert not isinstance(caught.value, DecryptionError)
    assert "short" not in str(caught.value)


def test_decryption_errors_are_fieldvault_errors_that_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(DecryptionError()))
    assert isinstance(error, CryptoError)
    assert isinstance(error, FieldvaultError)
    assert str(error) == MESSAGE


def test_a_wrapped_key_unwraps_only_with_its_kek_and_context() -> None:
    kek, data_key = generate_key(), generate_key()
    wrapped = wrap_key(kek, data_key, b"study-1/P01/recording/k1")
    assert data_key not in wrapped
    assert unwrap_key(kek, wrapped, b"study-1/P01/recording/k1") == data_key
    for bad_kek, context in (
        (generate_key(), b"study-1/P01/recording/k1"),
        (kek, b"study-1/P02/recording/k1"),
    ):
        with pytest.raises(DecryptionError):
            unwrap_key(bad_kek, wrapped, context)


def test_a_wrapped_key_is_not_accepted_as_a_sealed_value() -> None:
    kek = generate_key()
    wrapped = wrap_key(kek, generate_key(), b"ctx")
    with pytest.raises(DecryptionError):
        open_sealed(kek, wrapped, b"ctx")


# --- streams: round trips -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 5 * SEG + 17], ids=lambda s: f"{s}B"
)
def test_a_stream_round_trips_at_segment_boundaries(size: int) -> None:
    data = pattern(size)
    token = encrypt(data)
    segments = -(-size // SEG) or 1  # an empty stream still has its one final segment
    assert len(token) == HEADER_SIZE + size + segments * TAG_SIZE
    assert decrypt(token) == data


@pytest.mark.parametrize(
    "size",
    [0, 1, DEFAULT_SEGMENT_SIZE - 1, DEFAULT_SEGMENT_SIZE, DEFAULT_SEGMENT_SIZE + 1],
    ids=lambda s: f"{s}B",
)
def test_a_stream_round_trips_with_the_default_segment_size(size: int) -> None:
    data = pattern(size)
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, KEY, OID)
    assert decrypt(out.getvalue()) == data


def test_chunks_of_any_size_are_regrouped_into_segments() -> None:
    data = pattern(10 * SEG + 3)
    pieces = [data[i : i + 13] for i in range(0, len(data), 13)]
    out = io.BytesIO()
    encrypt_stream(iter(pieces), out, KEY, OID, segment_size=SEG)
    assert decrypt(out.getvalue()) == data
    _, segments = split(out.getvalue())
    assert [len(s) for s in segments] == [SEG + TAG_SIZE] * 10 + [3 + TAG_SIZE]


def test_a_file_source_is_read_in_segments() -> None:
    data = pattern(3 * SEG)
    out = io.BytesIO()
    info = encrypt_stream(io.BytesIO(data), out, KEY, OID, segment_size=SEG)
    assert info.plaintext_size == 3 * SEG
    assert decrypt(out.getvalue()) == data


def test_the_ciphertext_does_not_contain_the_plaintext() -> None:
    secret = b"Liv Hansen, NAV Grunerlokka, 22 33 44 55. " * 50
    token = encrypt(secret, segment_size=DEFAULT_SEGMENT_SIZE)
    assert b"Liv Hansen" not in token
    assert b"NAV" not in token


def test_the_same_plaintext_encrypts_differently_each_time() -> None:
    assert encrypt(b"same") != encrypt(b"same")


def test_decrypted_segments_are_yielded_in_order_one_segment_each() -> None:
    data = pattern(3 * SEG + 1)
    pieces = list(decrypt_stream(io.BytesIO(encrypt(data)), KEY, OID))
    assert pieces == [data[0:SEG], data[SEG : 2 * SEG], data[2 * SEG : 3 * SEG], data[3 * SEG :]]


def test_segments_are_yielded_only_after_they_are_authenticated() -> None:
    data = pattern(4 * SEG)
    header, segments = split(encrypt(data))
    segments[1] = flip(segments[1], 3)
    received: list[bytes] = []
    with pytest.raises(DecryptionError):
        for piece in decrypt_stream(io.BytesIO(header + b"".join(segments)), KEY, OID):
            received.append(piece)
    # Only the segment before the damaged one came out; nothing of the damaged one did.
    assert received == [data[:SEG]]


# --- streams: tampering -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [0, 3, 4, 5, 8, 9, 40, 41, 47],
    ids=["magic", "magic-end", "version", "segsize-hi", "segsize-lo", "salt", "salt-end",
         "prefix", "prefix-end"],
)  # fmt: skip
def test_a_flipped_header_byte_is_rejected(offset: int) -> None:
    assert_rejected(flip(encrypt(pattern(3 * SEG)), offset))


@pytest.mark.parametrize("where", ["first byte", "middle", "last ciphertext byte", "tag"])
@pytest.mark.parametrize("segment", [0, 1, 2])
def test_a_flipped_body_byte_is_rejected(segment: int, where: str) -> None:
    header, segments = split(encrypt(pattern(2 * SEG + 10)))
    target = segments[segment]
    size = len(target) - TAG_SIZE
    index = {"first byte": 0, "middle": size // 2, "last ciphertext byte": size - 1}.get(
        where, len(target) - 1
    )
    if size == 0 and where != "tag":
        index = len(target) - 1
    segments[segment] = flip(target, index)
    assert_rejected(header + b"".join(segments))


@pytest.mark.parametrize("kept", [0, 1, 2, 3])
def test_a_stream_truncated_after_any_segment_is_rejected(kept: int) -> None:
    header, segments = split(encrypt(pattern(4 * SEG)))
    assert len(segments) == 4
    assert_rejected(header + b"".join(segments[:kept]))


@pytest.mark.parametrize("cut", [1, TAG_SIZE, SEG, SEG + TAG_SIZE - 1])
def test_a_stream_cut_inside_a_segment_is_rejected(cut: int) -> None:
    token = encrypt(pattern(3 * SEG))
    assert_rejected(token[:-cut])


@pytest.mark.parametrize("cut", [1, HEADER_SIZE - 1, HEADER_SIZE])
def test_a_stream_cut_inside_or_right_after_the_header_is_rejected(cut: int) -> None:
    assert_rejected(encrypt(b"")[:cut])


def test_an_empty_stream_is_rejected() -> None:
    assert_rejected(b"")


def test_a_dropped_final_segment_is_rejected() -> None:
    # The final segment is a full one: without it the stream still looks well formed.
    header, segments = split(encrypt(pattern(3 * SEG)))
    assert_rejected(header + b"".join(segments[:-1]))


def test_a_dropped_middle_segment_is_rejected() -> None:
    header, segments = split(encrypt(pattern(3 * SEG)))
    assert_rejected(header + segments[0] + segments[2])


def test_two_reordered_segments_are_rejected() -> None:
    header, segments = split(encrypt(pattern(3 * SEG)))
    assert_rejected(header + segments[1] + segments[0] + segments[2])


def test_a_repeated_segment_is_rejected() -> None:
    header, segments = split(encrypt(pattern(3 * SEG)))
    assert_rejected(header + segments[0] + segments[0] + segments[1] + segments[2])


def test_data_appended_after_the_final_segment_is_rejected() -> None:
    token = encrypt(pattern(2 * SEG))
    assert_rejected(token + b"\x00")
    _, segments = split(token)
    assert_rejected(token + segments[-1])


@pytest.mark.parametrize("same_object_id", [True, False], ids=["same-id", "other-id"])
def test_a_segment_swapped_in_from_another_object_is_rejected(same_object_id: bool) -> None:
    other_id = OID if same_object_id else "object-bbbbbbbb"
    header, segments = split(encrypt(pattern(3 * SEG)))
    _, foreign = split(encrypt(pattern(3 * SEG), object_id=other_id))
    assert_rejected(header + segments[0] + foreign[1] + segments[2])


def test_a_header_swapped_in_from_another_object_is_rejected() -> None:
    _, segments = split(encrypt(pattern(2 * SEG)))
    other_header, _ = split(encrypt(pattern(2 * SEG)))
    assert_rejected(other_header + b"".join(segments))


def test_an_object_read_under_another_object_id_is_rejected() -> None:
    token = encrypt(pattern(2 * SEG))
    assert_rejected(token, object_id="object-bbbbbbbb")


def _bound(data: bytes, binding: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream([data], out, KEY, OID, segment_size=SEG, associated_data=binding)
    return out.getvalue()


def _read_bound(token: bytes, binding: bytes | None) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(token), KEY, OID, binding))


@pytest.mark.parametrize("size", [0, SEG, 3 * SEG + 5])
def test_a_bound_stream_reads_only_with_its_associated_data(size: int) -> None:
    token = _bound(pattern(size), b"owner-1/recording")
    assert token[4] == 2  # stream version 2: bound
    assert _read_bound(token, b"owner-1/recording") == pattern(size)
    for other in (b"owner-2/recording", b"owner-1/raw_transcript", b"", None):
        with pytest.raises(DecryptionError) as caught:
            _read_bound(token, other)
        assert str(caught.value) == MESSAGE


def test_a_bound_stream_relabelled_as_version_1_is_rejected() -> None:
    token = bytearray(_bound(pattern(2 * SEG), b"owner-1/recording"))
    token[4] = 1
    for binding in (None, b"owner-1/recording"):
        with pytest.raises(DecryptionError):
            _read_bound(bytes(token), binding)


def test_an_unbound_version_1_stream_still_reads_whatever_binding_the_reader_passes() -> None:
    token = encrypt(pattern(2 * SEG))
    assert token[4] == 1
    assert _read_bound(token, b"owner-1/recording") == pattern(2 * SEG)
    assert _read_bound(token, None) == pattern(2 * SEG)


@pytest.mark.parametrize("size", [0, 2 * SEG])
def test_a_stream_under_the_wrong_key_is_rejected(size: int) -> None:
    assert_rejected(encrypt(pattern(size)), key=generate_key())


def test_the_error_message_never_carries_key_or_plaintext() -> None:
    key = generate_key()
    token = encrypt(b"Lars from the Oslo office", key=key)
    with pytest.raises(DecryptionError) as caught:
        decrypt(flip(token, len(token) - 1), key)
    text = str(caught.value) + repr(caught.value)
    assert "Lars" not in text
    assert key.hex() not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_segment_size_out_of_range_is_refused() -> None:
    with pytest.raises(CryptoError):
        encrypt_stream([b"x"], io.BytesIO(), KEY, OID, segment_size=0)
    with pytest.raises(CryptoError):
        encrypt_stream([b"x"], io.BytesIO(), KEY, OID, segment_size=2**30)


def test_a_forged_huge_segment_size_is_rejected_before_reading() -> None:
    token = bytearray(encrypt(b"abc"))
    token[5:9] = (2**31).to_bytes(4, "big")
    assert_rejected(bytes(token))


# --- streams: memory ----------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import hashlib, os, resource, sys
    from fieldvault.storage.crypto import decrypt_stream, encrypt_stream, generate_key

    path = sys.argv[1]
    total_mib = int(sys.argv[2])
    block = bytearray(os.urandom(1024 * 1024))

    def chunks():
        # Generated on the fly: the whole object never exists in memory.
        for i in range(total_mib):
            block[:8] = i.to_bytes(8, "big")
            yield bytes(block)

    key = generate_key()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest_in = hashlib.sha256()
    def tapped():
        for chunk in chunks():
            digest_in.update(chunk)
            yield chunk
    with open(path, "wb") as out:
        info = encrypt_stream(tapped(), out, key, "memory-test-object")
    digest_out = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        for piece in decrypt_stream(src, key, "memory-test-object"):
            digest_out.update(piece)
            size += len(piece)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert info.plaintext_size == size == total_mib * 1024 * 1024, (info, size)
    assert digest_in.digest() == digest_out.digest()
    print((after - before) * (1 if sys.platform == "darwin" else 1024))
    """
)


@pytest.mark.slow
def test_a_200_mb_stream_round_trips_in_bounded_memory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "big.fv"), "200"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.strip())
    assert growth < 64 * 1024 * 1024, f"peak RSS grew by {growth / 1e6:.1f} MB"
