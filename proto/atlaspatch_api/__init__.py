"""The atlaspatch.v1 API as Python: generated stubs (`v1`), the wire codecs both ends use,
the errors that carry their gRPC status, and (`hosting`) what the services need to serve it.

Named `atlaspatch_api`, not `proto`, so that it never collides with another package's
top-level `proto` module (proto-plus has one)."""
