"""Errors for missing or corrupt data; their messages name the file and say what to do."""


class DataNotFoundError(FileNotFoundError):
    """Raw dataset files are missing and may not be downloaded."""


class DataCorruptError(ValueError):
    """A raw dataset file does not match its published checksum, or a prepared dataset
    (arrays.npz, meta.json) is unreadable or does not match the checksums recorded with it."""
