"""The lake: one file-system abstraction over local disk and S3, and the immutable raw zone on it."""
