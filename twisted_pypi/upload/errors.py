# -*- test-case-name: tests.upload.test_errors -*-
"""
How an upload is refused: :class:`UploadError`, with the HTTP status and a
sentence for the uploader, raised by every step of receiving, checking and
storing an upload.
"""

from __future__ import annotations

__all__ = ["UploadError", "too_large"]


class UploadError(Exception):
    """
    An upload is refused.

    :ivar code: The HTTP status.
    :ivar message: Why, in a sentence.
    """

    def __init__(self, code: int, message: str) -> None:
        """
        :param code: The HTTP status.
        :param message: Why, in a sentence.
        """
        super().__init__(code, message)
        self.code = code
        self.message = message


def too_large(max_size: int, what: str = "The upload") -> str:
    """
    What to say about an upload (or file) over the limit.

    :param max_size: The largest file accepted, in bytes.
    :param what: What is too large.
    """
    size = f"{max_size} bytes"
    if max_size >= 1 << 20:
        size = f"{max_size / (1 << 20):.1f} MiB ({size})"
    return f"{what} is too large: files may have at most {size}"
