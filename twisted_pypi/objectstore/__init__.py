"""
Talking to an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW)
over HTTP: requests signed with AWS Signature Version 4 (by botocore), sent
through an injected Twisted HTTP agent, bodies streamed with backpressure, S3
errors turned into typed exceptions.

Like the upstream client, this layer is an HTTP edge: it may use
``twisted.web``'s client; the storage layer above it builds an object store
from it without touching HTTP itself.
"""
