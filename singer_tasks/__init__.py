"""The singing domain. Importing this package loads nothing heavy (no torch, no music21)."""
