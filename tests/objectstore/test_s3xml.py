"""
Tests for :mod:`twisted_pypi.objectstore.s3xml` and
:mod:`twisted_pypi.objectstore.errors`: S3's documents read and written.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.objectstore.errors import NotFound, S3Error, error_for
from twisted_pypi.objectstore.s3xml import (
    complete_multipart_body,
    parse_error,
    parse_list,
    parse_upload_id,
)


class DocumentTests(SynchronousTestCase):
    """
    The XML documents of the S3 API.
    """

    def test_error_any_namespace(self) -> None:
        """
        An error document's code and message are read with or without a
        namespace; another document is refused.
        """
        plain = b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"
        spaced = b'<Error xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Code>X</Code></Error>'
        self.assertEqual(parse_error(plain), ("NoSuchKey", "gone"))
        self.assertEqual(parse_error(spaced), ("X", ""))
        self.assertRaises(ValueError, parse_error, b"<Other/>")
        self.assertRaises(ParseError, parse_error, b"<html")

    def test_last_page(self) -> None:
        """
        A listing that is not truncated has no next token, whatever it
        says, and lists common prefixes.
        """
        page = parse_list(
            b"<ListBucketResult><IsTruncated>false</IsTruncated>"
            b"<NextContinuationToken>t</NextContinuationToken>"
            b"<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes></ListBucketResult>"
        )
        self.assertIsNone(page.next_token)
        self.assertEqual((page.objects, page.prefixes), ((), ("a/",)))

    def test_upload_id(self) -> None:
        """
        A multipart upload's id is read from its start answer; an answer
        without one is refused.
        """
        doc = (
            b"<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
            b"</InitiateMultipartUploadResult>"
        )
        self.assertEqual(parse_upload_id(doc), "u1")
        self.assertRaises(
            ValueError, parse_upload_id, b"<InitiateMultipartUploadResult/>"
        )

    def test_complete_body(self) -> None:
        """
        The completion document numbers the parts from 1, each entity tag
        quoted once.
        """
        self.assertEqual(
            complete_multipart_body(['"a"', "b"]),
            b"<CompleteMultipartUpload>"
            b"<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>"
            b"<Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part>"
            b"</CompleteMultipartUpload>",
        )

    def test_error_without_document(self) -> None:
        """
        An error answer that is not an S3 document is classed by its status
        and described by it.
        """
        error = error_for(404, b"<html>nope</html>", "GET b/k")
        self.assertIsInstance(error, NotFound)
        self.assertEqual(str(error), "GET b/k 404: HTTP 404")
        plain = error_for(400, b"")
        self.assertIs(type(plain), S3Error)
        self.assertEqual(str(plain), "400: HTTP 400")
