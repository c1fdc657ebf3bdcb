"""Stream a backup URL into S3 with a resumable, checksummed, concurrent multipart upload.

Reading order: what happens to one part, module by module.

1. ``copy``: ``copy_url_to_s3`` is the entry point of one invocation. It probes the source, plans
   the parts, starts the multipart upload or resumes the cursor's (checked against ListParts),
   runs the parts, and completes and reads back the object, or returns a cursor.
2. ``config``: ``CopyConfig``, every tunable (sizes, concurrency, timeouts, retry attempts).
3. ``part_size``: ``PartPlan``, how big part *n* is and where it starts, for a known length or a
   growing schedule for an unknown one.
4. ``source``: ``HttpSource``, one GET of the backup URL over ``connections`` (keep-alive
   ``http.client`` connections, https verified, timeouts), its answer checked (status, ranges,
   content coding, credentials, the validators pinned by the first probe: ``Validators``,
   ``If-Range``), and ``SourceBody``, its bytes read with ``readinto`` straight into a buffer.
5. ``reader``: the same with retries: the probe, ``SequentialReader`` (one body front to back,
   a re-read prefix checked by CRC32) and ``RangeFetcher`` (one ranged GET per part), resuming
   broken bodies.
6. ``engine``: the part loop. A part gets a buffer from ``buffers`` (the memory bound), is filled by
   the reader, checksummed once on that buffer (``checksum``: zlib's CRC32, combined across
   parts), and uploaded by an uploader thread through ``multipart`` (``upload_body`` hands
   botocore the buffer without a copy). ``ledger`` records the finished parts and advances the
   contiguous prefix a cursor may promise. ``budget`` decides whether another part may start
   before the invocation's time runs out, and carries the stop signal when a part fails.
7. ``outcome``: ``CopyDone`` or ``CopyCursor``, what the call returns.

Retries follow ``aiven_backup.retry`` and S3 failures ``aiven_backup.s3`` (classified once,
retried, named), like everywhere else in the product.
"""

from aiven_backup.copier.config import CopyConfig, GiB, MiB, TiB
from aiven_backup.copier.copy import copy_url_to_s3
from aiven_backup.copier.multipart import abort_incomplete_uploads
from aiven_backup.copier.outcome import CopyCursor, CopyDone
from aiven_backup.copier.part_size import PartPlan, part_size_for, plan_parts
from aiven_backup.copier.reader import probe_source
from aiven_backup.copier.source import SourceInfo

__all__ = [
    "CopyConfig",
    "CopyCursor",
    "CopyDone",
    "GiB",
    "MiB",
    "PartPlan",
    "SourceInfo",
    "TiB",
    "abort_incomplete_uploads",
    "copy_url_to_s3",
    "part_size_for",
    "plan_parts",
    "probe_source",
]
