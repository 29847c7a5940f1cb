"""The public HTTP API (FastAPI). Never imports torch or music21."""
