"""Errors for missing or corrupt raw data; their messages say what to do."""


class DataNotFoundError(FileNotFoundError):
    """Raw dataset files are missing and may not be downloaded."""


class DataCorruptError(ValueError):
    """A raw dataset file does not match its published checksum."""
