"""Stream a backup URL into S3 with a resumable, checksummed, concurrent multipart upload."""

from aiven_backup.copier.config import CopyConfig, GiB, MiB, TiB
from aiven_backup.copier.copy import copy_url_to_s3
from aiven_backup.copier.cursor import CopyCursor
from aiven_backup.copier.multipart import abort_incomplete_uploads
from aiven_backup.copier.outcome import CopyDone
from aiven_backup.copier.part_size import PartPlan, part_size_for, plan_parts
from aiven_backup.copier.probe import probe_source
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
