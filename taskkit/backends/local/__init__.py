"""The embedded backend family: SQLite documents and queue, a folder of blobs, a local push dispatcher."""
