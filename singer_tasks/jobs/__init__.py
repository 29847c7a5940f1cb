"""Jobs and credits, torch-free: the typed documents (`model`) and their transitions (`transitions`)."""
