"""Sizes the copier tests share."""

from __future__ import annotations

PART = 64 * 1024  # the part size of the copier tests' ``small_parts`` config
