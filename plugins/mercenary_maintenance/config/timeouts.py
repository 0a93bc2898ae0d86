"""Connect/read bounds of every client and deadlines of every subprocess."""

from __future__ import annotations

from pydantic import Field

from mercenary_maintenance.config.base import StrictModel


class PostgresTimeouts(StrictModel):
    connect_s: float = Field(5, gt=0)
    """libpq connect_timeout: the whole connection set-up (TCP, TLS, startup, auth)."""
    keepalives_idle_s: int = Field(10, ge=1)
    """TCP keepalives: a peer that vanished (host down, cable cut) is noticed after idle + interval × count seconds
    instead of the kernel's two hours."""
    keepalives_interval_s: int = Field(5, ge=1)
    keepalives_count: int = Field(3, ge=1)
    read_grace_s: float = Field(10, gt=0)
    """A server that is up but silent (a stopped backend, a hung proxy) still answers keepalives: the client closes
    the socket this long after statement_timeout passed."""


class RedisTimeouts(StrictModel):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(5, gt=0)
    """socket_timeout: every reply (with one retry); BGREWRITEAOF is polled, so no command waits long."""


class S3Timeouts(StrictModel):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(60, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)
    """botocore "standard" retry mode: total attempts per call, including the first."""


class HttpTimeouts(StrictModel):
    connect_s: float = Field(5, gt=0)
    read_s: float = Field(10, gt=0)


class SubprocessTimeouts(StrictModel):
    default_s: float = Field(600, gt=0)
    """A short command (psql, pg_verifybackup --version, …) with no bound of its own."""
    backup_s: float = Field(6 * 3600, gt=0)
    """pg_dump / pg_restore / pg_basebackup / pg_combinebackup / pg_verifybackup."""
    kill_grace_s: float = Field(5, gt=0)
    """After the deadline the process group gets SIGTERM, then SIGKILL after this grace."""
    stall_s: float = Field(300, gt=0)
    """A streaming pipeline stage (uploader thread, compressor) that makes no progress this long hung."""


class SshTimeouts(StrictModel):
    connect_s: float = Field(10, gt=0)
    """TCP connect, SSH banner and authentication, each (a silent host costs at most 3× this)."""
    command_s: float = Field(120, gt=0)
    """Every command and file transfer on a host (the channel is closed when it passes)."""


class TimeoutsConfig(StrictModel):
    """Connect/read bounds of every network client and deadlines of every subprocess.

    Task ``execution_timeout``s are set when the DAG file is parsed (dagkit), so they are not
    here: the config is read at run time only."""

    postgres: PostgresTimeouts = Field(default_factory=PostgresTimeouts)
    redis: RedisTimeouts = Field(default_factory=RedisTimeouts)
    s3: S3Timeouts = Field(default_factory=S3Timeouts)
    slack: HttpTimeouts = Field(default_factory=HttpTimeouts)
    http: HttpTimeouts = Field(default_factory=HttpTimeouts)
    subprocess: SubprocessTimeouts = Field(default_factory=SubprocessTimeouts)
    ssh: SshTimeouts = Field(default_factory=SshTimeouts)
