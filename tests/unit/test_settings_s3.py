"""The S3 blob store's settings: the bucket URL, the keys, and the secret kept out of sight."""

from __future__ import annotations

import pytest

from fieldvault.config.settings import load_settings
from fieldvault.errors import ConfigError
from fieldvault.storage.blobs import LocalBlobStore
from fieldvault.storage.services import blob_store


def test_a_blob_url_names_the_bucket_and_prefix_and_the_secret_stays_hidden() -> None:
    settings = load_settings(
        environ={
            "FIELDVAULT_BLOB_URL": "s3://field-vault/recordings/2026/",
            "FIELDVAULT_S3_ENDPOINT_URL": "http://127.0.0.1:8333",
            "FIELDVAULT_S3_ACCESS_KEY_ID": "fieldvault",
            "FIELDVAULT_S3_SECRET_ACCESS_KEY": "s3-very-secret",
        }
    )
    assert settings.blob_s3_location == ("field-vault", "recordings/2026/")
    assert "s3-very-secret" not in repr(settings) + str(settings)
    store = blob_store(settings)
    assert repr(store) == "S3BlobStore(s3://field-vault/recordings/2026/)"


def test_without_a_blob_url_the_store_is_the_local_folder() -> None:
    settings = load_settings(environ={})
    assert settings.blob_s3_location is None
    assert isinstance(blob_store(settings), LocalBlobStore)


@pytest.mark.parametrize(
    "url", ["https://bucket/x", "s3://", "s3://UPPER", "s3://ab", "s3://bucket/../x y"]
)
def test_a_blob_url_that_is_no_bucket_is_refused_in_words(url: str) -> None:
    with pytest.raises(ConfigError, match="FIELDVAULT_BLOB_URL: use s3://bucket"):
        load_settings(environ={"FIELDVAULT_BLOB_URL": url})


def test_an_access_key_without_its_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="together"):
        load_settings(
            environ={"FIELDVAULT_BLOB_URL": "s3://bucket", "FIELDVAULT_S3_ACCESS_KEY_ID": "k"}
        )
