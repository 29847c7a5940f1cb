"""The built-in, weight-free DSP voice: phrases -> mel + f0 (and the waveform it synthesised).

A source-filter singer: a band-limited glottal pulse train at the phrase's f0 shaped by vowel formant
resonances, shaped noise for unvoiced consonants and breaths, silence on rests. Its mel is computed
from that waveform with the project's one mel definition (`singer_tasks.voices.mel`).
"""
