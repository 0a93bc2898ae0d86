"""Compress a byte stream with zstd and upload it as one S3 multipart object.

A producer (``feed``, e.g. copying ``pg_dump``'s stdout) runs in a worker thread and
writes raw chunks; they are compressed (zstd releases the GIL, so this uses a second
core), hashed (sha256 of the stored bytes) and cut into fixed-size parts that go through
a bounded queue to the uploading thread. Memory is bounded by about
``(QUEUE_PARTS + 2) * part_size`` whatever the database size.

The object becomes visible only when ``complete_multipart_upload`` succeeds, which
happens after the producer and ``finish`` (e.g. checking pg_dump's exit status)
succeeded. On ANY failure the multipart upload is aborted and the error re-raised; an
abort that cannot reach S3 is left to :func:`abort_stale_uploads` on the next attempt and
to the lifecycle rule that aborts incomplete uploads after a day.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

log = logging.getLogger(__name__)

MB = 1024 * 1024
QUEUE_PARTS = 2
READ_CHUNK = 1 * MB
PROGRESS_EVERY_S = 10.0

Write = Callable[[bytes], None]


class Cancelled(RuntimeError):
    """The uploading side failed; the producer stops."""


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    sha256: str
    raw_size: int
    parts: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.raw_size / MB / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Tally:
    raw: int = 0
    stored: int = 0


class _Compressor:
    """Raw chunks in, fixed-size compressed parts out (into a bounded queue)."""

    def __init__(self, level: int, part_size: int, out: queue.Queue[Any], cancel: threading.Event) -> None:
        import zstandard

        self._chunker = zstandard.ZstdCompressor(level=level).chunker(chunk_size=part_size)
        self._out = out
        self._cancel = cancel
        self.sha = hashlib.sha256()
        self.tally = _Tally()

    def write(self, data: bytes) -> None:
        self.tally.raw += len(data)
        for part in self._chunker.compress(data):
            self._emit(part)

    def finish(self) -> None:
        for part in self._chunker.finish():  # type: ignore[no-untyped-call]
            self._emit(part)

    def _emit(self, part: bytes) -> None:
        self.sha.update(part)
        self.tally.stored += len(part)
        while True:  # block on a full queue, but notice when the uploader gave up
            if self._cancel.is_set():
                raise Cancelled("upload cancelled")
            try:
                self._out.put(part, timeout=0.2)
                return
            except queue.Full:
                continue


def copy_reader(source: IO[bytes]) -> Callable[[Write], None]:
    """A ``feed`` that copies a binary pipe in 1 MB reads."""

    def feed(write: Write) -> None:
        read = getattr(source, "read1", source.read)
        while chunk := read(READ_CHUNK):
            write(chunk)

    return feed


_END = object()


def upload_stream(
    client: Any,
    bucket: str,
    key: str,
    feed: Callable[[Write], None],
    *,
    level: int = 3,
    part_size: int = 16 * MB,
    finish: Callable[[], None] | None = None,
    on_failure: Callable[[], None] | None = None,
    label: str = "backup",
) -> Uploaded:
    """Run ``feed`` in a thread, upload its compressed output to ``s3://bucket/key``."""
    started = time.monotonic()
    parts_q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PARTS)
    cancel = threading.Event()
    compressor = _Compressor(level, part_size, parts_q, cancel)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            feed(compressor.write)
            compressor.finish()
        except BaseException as exc:
            errors.append(exc)
        finally:
            _put_end(parts_q, cancel)

    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/zstd")["UploadId"]
    worker = threading.Thread(target=produce, name=f"compress-{label}", daemon=True)
    etags: list[dict[str, Any]] = []
    try:
        worker.start()
        last_log = started
        while (part := parts_q.get()) is not _END:
            number = len(etags) + 1
            resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part)
            etags.append({"PartNumber": number, "ETag": resp["ETag"]})
            if time.monotonic() - last_log >= PROGRESS_EVERY_S:
                last_log = time.monotonic()
                _progress(label, compressor.tally, started)
        worker.join()
        if errors:
            raise errors[0]
        if finish is not None:
            finish()
        if not etags:  # an empty stream still needs one (empty) part
            resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"")
            etags.append({"PartNumber": 1, "ETag": resp["ETag"]})
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": etags})
    except BaseException:
        cancel.set()
        if on_failure is not None:
            on_failure()
        worker.join(timeout=30)
        _abort(client, bucket, key, upload_id)
        if errors and not isinstance(errors[0], Cancelled):
            raise errors[0] from None
        raise
    seconds = time.monotonic() - started
    _progress(label, compressor.tally, started, done=True)
    return Uploaded(key=key, size=compressor.tally.stored, sha256=compressor.sha.hexdigest(),
                    raw_size=compressor.tally.raw, parts=len(etags), seconds=seconds)


def _put_end(parts_q: queue.Queue[Any], cancel: threading.Event) -> None:
    while not cancel.is_set():
        try:
            parts_q.put(_END, timeout=0.2)
            return
        except queue.Full:
            continue


def _progress(label: str, tally: _Tally, started: float, done: bool = False) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    log.info("%s %s: %.1f MB read, %.1f MB stored, %.1f MB/s", label, "done" if done else "progress",
             tally.raw / MB, tally.stored / MB, tally.raw / MB / elapsed)


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        log.warning("aborted multipart upload of s3://%s/%s", bucket, key)
    except Exception:
        # Keep the original error; the next attempt's abort_stale_uploads cleans this up.
        log.exception("could not abort multipart upload of s3://%s/%s", bucket, key)


def abort_stale_uploads(client: Any, bucket: str, prefix: str) -> int:
    """Abort unfinished multipart uploads under ``prefix`` (left by a killed attempt)."""
    aborted = 0
    resp = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    for upload in resp.get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        aborted += 1
    if aborted:
        log.warning("aborted %d unfinished multipart upload(s) under s3://%s/%s", aborted, bucket, prefix)
    return aborted


class HashingReader:
    """Wraps a streaming body: counts and hashes the bytes read (for restore and integrity)."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int | None = -1) -> bytes:
        data: bytes = self._body.read(n if n and n > 0 else READ_CHUNK)
        self.sha.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ_CHUNK):
            pass
