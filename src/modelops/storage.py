"""Local paths and `s3://` URLs behind one small interface, so ScoreFlow's steps run anywhere.

On one machine every step sees the same disk. On Kubernetes or Batch workers steps share
nothing but S3, so when the input or the output is an `s3://` URL the shard parts go to the
run's S3 data prefix too (where `metaflow.S3(run=self)` writes). Reads are ranged GETs, so a
worker fetches its shard and nothing else; writes go to a local temporary file that is uploaded
once complete: an S3 PUT is atomic, the counterpart of write-then-rename on a disk. All S3
traffic goes through `metaflow.S3`, so the endpoint, credentials and retries are Metaflow's.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from modelops.errors import DataError

Location = str | Path
READ_BUFFER = 8 << 20  # one ranged GET per 8 MB read


def is_s3(url: Location) -> bool:
    return str(url).startswith("s3://")


def name(url: Location) -> str:
    return str(url).rstrip("/").rsplit("/", 1)[-1] if is_s3(url) else Path(url).name


def suffix(url: Location) -> str:
    """Lower-case extension: `.csv`, `.parquet`, ..."""
    base = name(url)
    return "." + base.rsplit(".", 1)[1].lower() if "." in base else ""


def is_parquet(url: Location) -> bool:
    """Parquet by extension; everything else is read and written as CSV."""
    return suffix(url) in (".parquet", ".pq")


# compressed CSV that pyarrow's codecs decompress as a stream
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}


def compression(url: Location) -> str | None:
    """The codec a file's extension names (`new.csv.gz` -> 'gzip'), or None."""
    return COMPRESSION.get(suffix(url))


def decompress(url: Location, dest: Location) -> None:
    """Write the decompressed content of `url` to `dest` (atomically), streaming: a sharded
    reader seeks by byte offsets, which a compressed stream cannot do."""
    import pyarrow as pa

    codec = compression(url)
    with open_binary(url) as raw, atomic_output(dest) as tmp, open(tmp, "wb") as out:
        stream = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec)
        while chunk := stream.read(READ_BUFFER):
            out.write(chunk)


def with_name(url: Location, new_name: str) -> Location:
    """The same folder (or S3 prefix), another file name."""
    if is_s3(url):
        return str(url).rstrip("/").rsplit("/", 1)[0] + "/" + new_name
    return Path(url).with_name(new_name)


def parent(url: Location) -> Location:
    return str(url).rstrip("/").rsplit("/", 1)[0] if is_s3(url) else Path(url).parent


def join(folder: Location, child: str) -> Location:
    return str(folder).rstrip("/") + "/" + child if is_s3(folder) else Path(folder) / child


def _s3() -> Any:
    from metaflow import S3

    check_credentials()
    return S3()


def check_credentials() -> None:
    """Fail in a second, with what to do, when no AWS credentials can be found: the S3 client
    otherwise retries for minutes before saying anything."""
    import boto3

    if boto3.session.Session().get_credentials() is None:
        from modelops.errors import ConfigError

        raise ConfigError(
            "an s3:// path needs AWS credentials and none were found: set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run where an instance role gives "
            "them); for S3-compatible storage also set METAFLOW_S3_ENDPOINT_URL"
        )


def _info(url: str) -> Any:
    with _s3() as s3:
        return s3.info(url, return_missing=True)


def exists(url: Location) -> bool:
    return _info(str(url)).exists if is_s3(url) else Path(url).exists()


def size(url: Location) -> int:
    if not is_s3(url):
        return Path(url).stat().st_size
    info = _info(str(url))
    if not info.exists:
        raise DataError(f"{url}: file not found")
    return int(info.size)


class _S3Range(io.RawIOBase):
    """A seekable read-only file over an S3 object; each `readinto` is one ranged GET."""

    def __init__(self, url: str, length: int):
        self.url, self.length, self.pos = url, length, 0
        self.s3 = _s3()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.length}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        from metaflow.plugins.datatools.s3.s3 import S3GetObject

        n = min(len(buffer), self.length - self.pos)
        if n <= 0:
            return 0
        obj = self.s3.get(S3GetObject(self.url, self.pos, n))
        data = obj.blob
        os.unlink(obj.path)  # a pass over a large object must not fill the temporary disk
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.s3.close()
        super().close()


def open_binary(url: Location) -> IO[bytes]:
    """A binary, seekable file: the local file, or buffered ranged reads of the S3 object."""
    if not is_s3(url):
        return open(url, "rb")
    return io.BufferedReader(_S3Range(str(url), size(url)), buffer_size=READ_BUFFER)


def ensure_writable(folder: Path, tag: str = "") -> None:
    """Create `folder` if needed and write (then remove) a probe file in it: an OSError now,
    at start, rather than after the work whose output it would hold."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".{tag}write-check-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(url: Location) -> Iterator[Path]:
    """A local path to write what will appear at `url` all at once, or not at all.

    On success the file is published: renamed into place beside the destination (same
    filesystem, so atomic), or uploaded with one PUT for S3. On any failure the temporary file
    is removed and the destination is untouched. The published file gets the permissions the
    umask gives a new file (not mkstemp's 0600), so teammates can read a shared folder.
    """
    folder = None if is_s3(url) else Path(url).parent
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name_ = tempfile.mkstemp(dir=folder, prefix=f".{name(url)}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name_)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if is_s3(url):
            with _s3() as s3:
                s3.put_files([(str(url), str(tmp))])
            tmp.unlink()
        else:
            os.replace(tmp, url)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def fetch(url: Location) -> Iterator[Path]:
    """A local path with the file's content (and extension) for the duration of the block."""
    if not is_s3(url):
        yield Path(url)
        return
    with _s3() as s3:
        local = Path(s3.get(str(url)).path)
        named = local.with_name(local.name + suffix(url))  # readers go by the extension
        os.replace(local, named)
        yield named


def read_text(url: Location) -> str:
    with fetch(url) as local:
        return local.read_text(encoding="utf-8")


def write_text(url: Location, text: str) -> None:
    """Write through a temporary file, flushed to disk, then published: never half a file."""
    with atomic_output(url) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_json(url: Location, data: Any) -> None:
    """JSON written atomically (see `write_text`): registry records, drift summaries."""
    write_text(url, json.dumps(data, indent=2, sort_keys=True, default=str))


def remove_tree(url: Location) -> None:
    """Drop a local folder of intermediate files; S3 parts stay with the run's data."""
    if not is_s3(url):
        shutil.rmtree(url, ignore_errors=True)


def run_prefix(flow_name: str, run_id: str, child: str) -> str:
    """`<DATATOOLS_S3ROOT>/<flow>/<run>/<child>`: the prefix `metaflow.S3(run=self)` uses."""
    from metaflow.metaflow_config import DATATOOLS_S3ROOT

    if not DATATOOLS_S3ROOT:
        raise DataError(
            "an s3:// input or output needs Metaflow's S3 settings for the shard parts: set "
            "METAFLOW_DATASTORE_SYSROOT_S3 (or METAFLOW_DATATOOLS_S3ROOT), e.g. with the s3 profile"
        )
    return f"{DATATOOLS_S3ROOT.rstrip('/')}/{flow_name}/{run_id}/{child}"
