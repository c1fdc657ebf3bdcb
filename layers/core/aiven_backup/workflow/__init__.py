"""The workflow's own logic: execution input, S3 layout, lock, notifications, the steps."""
