"""S3 side of log archival: deterministic keys, upload with sha256 metadata, read-back verification."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mercenary_maintenance.config import TimeoutsConfig

CHUNK = 1 << 20


def client_for(conn_id: str, timeouts: TimeoutsConfig) -> Any:
    from mercenary_maintenance.adapters import s3

    return s3.client(conn_id, timeouts=timeouts)


def set_prefix(set_name: str) -> str:
    return f"logs/{set_name}/"


def object_key(set_name: str, base: str, path: str, mtime: float, source_sha256: str, host: str | None = None) -> str:
    """The same file always gets the same key (retries never duplicate); the source hash in
    the name keeps a rotated file that reuses a name apart from the earlier one.

    >>> object_key("app", "/var/log/app", "/var/log/app/a/x.log", 0, "ab" * 32)
    'logs/app/1970-01-01/a/x.log.ababababab.zst'
    >>> object_key("app", "/var/log", "/var/log/x.log", 0, "ab" * 32, host="app1")
    'logs/app/1970-01-01/app1/x.log.ababababab.zst'
    """
    day = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d")
    rel = os.path.relpath(path, base).replace(os.sep, "/")
    if host is not None:  # a host target's file: under the host's name (the implicit local keeps the old keys)
        rel = f"{host}/{rel}"
    return f"{set_prefix(set_name)}{day}/{rel}.{source_sha256[:10]}.zst"


@dataclass(frozen=True)
class Packed:
    """A compressed copy of a source file, with the hashes of both."""

    path: str
    size: int
    sha256: str
    source_size: int
    source_sha256: str

    def metadata(self) -> dict[str, str]:
        return {"sha256": self.sha256, "size": str(self.size), "source-sha256": self.source_sha256,
                "source-size": str(self.source_size)}


def compress(source: str, dest: str, level: int) -> Packed:
    """zstd-compress ``source`` into ``dest``, hashing both sides in one pass."""
    with open(source, "rb") as src:
        return compress_stream(src, dest, level)


def compress_stream(src: IO[bytes], dest: str, level: int) -> Packed:
    """zstd-compress what ``src`` yields (a local file or one read over SFTP) into ``dest``, hashing both sides."""
    import zstandard

    src_hash, out_hash = hashlib.sha256(), hashlib.sha256()
    src_size = 0

    class _Tee:
        def __init__(self, fh: Any) -> None:
            self.fh, self.size = fh, 0

        def write(self, data: bytes) -> int:
            out_hash.update(data)
            self.size += len(data)
            return int(self.fh.write(data))

    with open(dest, "wb") as raw:
        tee = _Tee(raw)
        with zstandard.ZstdCompressor(level=level).stream_writer(tee, closefd=False) as writer:  # type: ignore[arg-type]
            while chunk := src.read(CHUNK):
                src_hash.update(chunk)
                src_size += len(chunk)
                writer.write(chunk)
    return Packed(dest, tee.size, out_hash.hexdigest(), src_size, src_hash.hexdigest())


def head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(client.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def verify(client: Any, bucket: str, key: str, expect_sha256: str, expect_size: int, source_sha256: str) -> str | None:
    """Read the object back: HEAD (size, metadata) and GET (bytes hashed). ``None`` = verified."""
    meta = head(client, bucket, key)
    if meta is None:
        return "object missing after upload"
    if int(meta.get("ContentLength", -1)) != expect_size:
        return f"size {meta.get('ContentLength')} != {expect_size}"
    metadata = meta.get("Metadata") or {}
    if metadata.get("sha256") != expect_sha256 or metadata.get("source-sha256") != source_sha256:
        return "sha256 metadata does not match"
    digest, size = hashlib.sha256(), 0
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    if size != expect_size or digest.hexdigest() != expect_sha256:
        return f"read back {size} bytes with sha256 {digest.hexdigest()[:12]}…, expected {expect_sha256[:12]}…"
    return None


def upload(client: Any, bucket: str, key: str, packed: Packed, extra_args: dict[str, str] | None = None) -> None:
    client.upload_file(packed.path, bucket, key, ExtraArgs={"Metadata": packed.metadata(),
                                                           "ContentType": "application/zstd", **(extra_args or {})})
