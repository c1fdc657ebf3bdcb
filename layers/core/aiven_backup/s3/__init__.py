"""S3 failures, decided once: ``faults`` classifies a botocore error, ``retry`` retries a call as
that classification says, ``translate`` turns what is left into the product's named errors."""
