"""Verify a backup tar in S3 with ranged reads and record its inventory next to it."""

from aiven_backup.verify.inventory import Inventory, InventoryFile, human_bytes
from aiven_backup.verify.manifest import BackupManifest, ManifestEntry, parse_manifest
from aiven_backup.verify.publish import inventory_key, verification_tags, write_inventory
from aiven_backup.verify.tar_index import TarMember, index_tar_in_s3
from aiven_backup.verify.verifier import verify_backup

__all__ = [
    "BackupManifest",
    "Inventory",
    "InventoryFile",
    "ManifestEntry",
    "TarMember",
    "human_bytes",
    "index_tar_in_s3",
    "inventory_key",
    "parse_manifest",
    "verification_tags",
    "verify_backup",
    "write_inventory",
]
