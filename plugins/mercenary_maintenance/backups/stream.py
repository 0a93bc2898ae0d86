"""Compress a byte stream with zstd and upload it as one S3 multipart object.

A producer (``feed``, e.g. copying ``pg_dump``'s stdout) runs in a worker thread and
writes raw chunks; they are compressed (zstd releases the GIL, so this uses a second
core) and cut into fixed-size parts that go through a bounded queue to the uploading
thread, which hashes (sha256 of the stored bytes) and uploads them. Memory is bounded by
about ``(QUEUE_PARTS + 2) * part_size`` whatever the database size.

CPU: zstd is nearly all of it (level 3 is about 85 % of the process's CPU time, level 1
costs about a third of level 3; see docs/areas/backups.md). The rest is kept small: the
pipe is widened to 1 MiB and read with ``readinto`` into one reused 4 MiB buffer whose
slices go to zstd without a copy; parts leave the chunker as exactly ``part_size`` bytes
(one copy) and are hashed once, by the uploading thread (off the compressing thread).

The object becomes visible only when ``complete_multipart_upload`` succeeds, which
happens after the producer and ``finish`` (e.g. checking pg_dump's exit status)
succeeded. On ANY failure the multipart upload is aborted and the error re-raised; an
abort that cannot reach S3 is left to :func:`abort_stale_uploads` on the next attempt and
to the lifecycle rule that aborts incomplete uploads after a day.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MB = 1024 * 1024
QUEUE_PARTS = 2
READ_CHUNK = 1 * MB  # restore/integrity reads of S3 bodies
FEED_CHUNK = 4 * MB  # pipe reads handed to zstd in one call
PIPE_SIZE = 1 * MB  # Linux default is 64 KiB; 1 MiB is the unprivileged maximum by default
PROGRESS_EVERY_S = 10.0
MAX_PARTS = 10_000  # S3's limit per multipart upload
MAX_PART_SIZE = 5 * 1024 * MB  # S3's limit per part
PLANNED_PARTS = 8_000  # room for a dump that turns out bigger than the estimate
CHECKSUM = "SHA256"
"""Each part carries its SHA-256, which S3 verifies on receipt (the in-transit check over HTTPS, where
the payload is not signed) and keeps: the completed object has a composite SHA-256 of its parts
(``ChecksumSHA256``, "<base64>-<parts>"), read back by HEAD at upload and recorded in the manifest, so the
daily ``backup.integrity`` compares S3's own checksum without reading the data. Our sha256 of the whole
object (in the manifest) is the end-to-end check the rotating re-read repeats."""

Buffer = bytes | bytearray | memoryview
Write = Callable[[Buffer], None]
"""Receives raw bytes; a memoryview is valid only during the call (its buffer is reused)."""


class Cancelled(RuntimeError):
    """The uploading side failed; the producer stops."""


class Stalled(RuntimeError):
    """The producer read nothing for ``stall_s`` (a stopped or hung program); the upload is aborted."""


class TooManyParts(RuntimeError):
    """The stream outgrew S3's part limit (the upload is aborted)."""


def part_size_for(expected_bytes: int, configured: int) -> int:
    """The configured part size, raised (in whole MB) when ``expected_bytes`` would need more
    than :data:`PLANNED_PARTS` parts; memory grows with it, so only huge databases pay.

    >>> part_size_for(1024 * MB, 16 * MB) // MB
    16
    >>> part_size_for(400 * 1024 * MB, 16 * MB) // MB
    52
    """
    needed = -(-max(expected_bytes, 0) // PLANNED_PARTS)
    size = max(configured, -(-needed // MB) * MB)
    return min(size, MAX_PART_SIZE)


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    sha256: str
    raw_size: int
    parts: int
    seconds: float
    complete_s: float = 0.0
    """Of ``seconds``, the time S3 took to assemble the object after the last part."""
    etag: str | None = None
    """S3's ETag of the completed object (for multipart: over the parts' digests), kept in the manifest
    so the daily check can compare it with a HEAD instead of re-reading the object."""
    checksum_sha256: str | None = None
    """S3's composite SHA-256 of the parts as S3 reports it (HEAD right after completion; None: the store
    keeps no checksums)."""

    @property
    def mb_per_s(self) -> float:
        return self.raw_size / MB / self.seconds if self.seconds > 0 else 0.0


class _Compressor:
    """Raw chunks in, fixed-size compressed parts out (into a bounded queue)."""

    def __init__(self, level: int, part_size: int, out: queue.Queue[Any], cancel: threading.Event) -> None:
        import zstandard

        self._chunker = zstandard.ZstdCompressor(level=level).chunker(chunk_size=part_size)
        self._out = out
        self._cancel = cancel
        self.raw = 0

    def write(self, data: Buffer) -> None:
        self.raw += len(data)
        for part in self._chunker.compress(data):  # consumes all of ``data`` before returning
            self._emit(part)

    def finish(self) -> None:
        for part in self._chunker.finish():  # type: ignore[no-untyped-call]
            self._emit(part)

    def _emit(self, part: bytes) -> None:
        while True:  # block on a full queue, but notice when the uploader gave up
            if self._cancel.is_set():
                raise Cancelled("upload cancelled")
            try:
                self._out.put(part, timeout=0.2)
                return
            except queue.Full:
                continue


def widen_pipe(source: Any, size: int = PIPE_SIZE) -> None:
    """Best effort: a bigger pipe buffer means fewer reads and wake-ups (Linux only)."""
    try:
        import fcntl

        fcntl.fcntl(source.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass  # not a pipe, not Linux, or above /proc/sys/fs/pipe-max-size: keep the default


def copy_reader(source: Any, chunk: int = FEED_CHUNK) -> Callable[[Write], None]:
    """A ``feed`` that copies a binary pipe (anything with ``readinto``, e.g. a Popen's
    stdout) in ``chunk``-sized reads into one reused buffer."""

    def feed(write: Write) -> None:
        widen_pipe(source)
        buf = bytearray(chunk)
        view = memoryview(buf)
        readinto = source.readinto  # a BufferedReader fills ``buf`` unless at EOF
        while n := readinto(buf):
            write(view[:n])

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
    max_parts: int = MAX_PARTS,
    extra_args: dict[str, str] | None = None,
    stall_s: float,
) -> Uploaded:
    """Run ``feed`` in a thread, upload its compressed output to ``s3://bucket/key``
    (``extra_args``: e.g. server-side encryption, see :mod:`.encryption`).

    When the producer reads no byte for ``stall_s`` (the caller's ``timeouts.subprocess.stall_s``) the
    upload fails with :class:`Stalled`, naming ``label``; the spawned program's own deadline
    (:func:`runner.spawn`) bounds it as a whole."""
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

    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/zstd",
                                               ChecksumAlgorithm=CHECKSUM, **(extra_args or {}))["UploadId"]
    worker = threading.Thread(target=produce, name=f"compress-{label}", daemon=True)
    etags: list[dict[str, Any]] = []
    digests: list[bytes] = []
    sha = hashlib.sha256()
    stored = 0
    try:
        worker.start()
        last_log = started
        stall = stall_s
        while (part := _next_part(parts_q, compressor, stall, label)) is not _END:
            sha.update(part)  # exactly the bytes stored, in order
            stored += len(part)
            number = len(etags) + 1
            if number > max_parts:
                raise TooManyParts(
                    f"{label}: more than {max_parts} parts of {part_size / MB:.0f} MB ({stored / MB:.0f} MB "
                    f"so far, S3's limit); raise backups.part_size_mb")
            digest = hashlib.sha256(part).digest()
            digests.append(digest)
            resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part,
                                      ChecksumAlgorithm=CHECKSUM, ChecksumSHA256=_b64(digest))
            etags.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": _b64(digest)})
            del part  # drop our reference before waiting for the next one (bounded memory)
            if time.monotonic() - last_log >= PROGRESS_EVERY_S:
                last_log = time.monotonic()
                _progress(label, compressor.raw, stored, started)
        worker.join()
        if errors:
            raise errors[0]
        if finish is not None:
            finish()
        if not etags:  # an empty stream still needs one (empty) part
            digests.append(hashlib.sha256(b"").digest())
            resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"",
                                      ChecksumAlgorithm=CHECKSUM, ChecksumSHA256=_b64(digests[0]))
            etags.append({"PartNumber": 1, "ETag": resp["ETag"], "ChecksumSHA256": _b64(digests[0])})
        completing = time.monotonic()
        completed = client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                     MultipartUpload={"Parts": etags})
        complete_s = time.monotonic() - completing
        checksum = stored_checksum(client, bucket, key, composite_sha256(digests))
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
    _progress(label, compressor.raw, stored, started, done=True)
    return Uploaded(key=key, size=stored, sha256=sha.hexdigest(), raw_size=compressor.raw, parts=len(etags),
                    seconds=seconds, complete_s=complete_s, etag=completed.get("ETag"), checksum_sha256=checksum)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def composite_sha256(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: SHA-256 over the parts' SHA-256 digests, "-<parts>".

    >>> composite_sha256([hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()])
    '5aAf7hTg7VxIcU8iGA8lrYNltT+XefedxKPX6Tlj+Uo=-2'
    """
    return f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def stored_checksum(client: Any, bucket: str, key: str, expected: str) -> str | None:
    """S3's SHA-256 checksum of the completed object, read back by HEAD (what the daily check will
    compare); one that is not the parts' composite fails the upload. None: the store keeps none."""
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    got: str | None = head.get("ChecksumSHA256")
    # AWS reports "<base64>-<parts>", some S3-compatible stores the base64 alone (base64 has no "-").
    if got is not None and got.split("-")[0] != expected.split("-")[0]:
        raise RuntimeError(f"{key}: S3's SHA-256 checksum {got} is not the composite of the parts sent ({expected})")
    return got


def _next_part(parts_q: queue.Queue[Any], compressor: _Compressor, stall_s: float, label: str) -> Any:
    """The next part; raise :class:`Stalled` when no raw byte arrived for ``stall_s`` (a part can
    take long to fill while bytes still flow: only no progress at all counts)."""
    seen, since = compressor.raw, time.monotonic()
    while True:
        try:
            return parts_q.get(timeout=min(1.0, stall_s))
        except queue.Empty:
            if compressor.raw != seen:
                seen, since = compressor.raw, time.monotonic()
            elif time.monotonic() - since >= stall_s:
                raise Stalled(f"{label}: no data for {stall_s:g}s (timeouts.subprocess.stall_s): "
                              f"the program hung after {compressor.raw / MB:.1f} MB") from None


def _put_end(parts_q: queue.Queue[Any], cancel: threading.Event) -> None:
    while not cancel.is_set():
        try:
            parts_q.put(_END, timeout=0.2)
            return
        except queue.Full:
            continue


def _progress(label: str, raw: int, stored: int, started: float, done: bool = False) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    log.info("%s %s: %.1f MB read, %.1f MB stored, %.1f MB/s", label, "done" if done else "progress",
             raw / MB, stored / MB, raw / MB / elapsed)


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
