"""Sound classes of the built-in voice for ARPAbet (English) and opencpop (Mandarin) phonemes.

Each phoneme maps to a `Sound`: its class, a formant trajectory (F1, F2, F3 targets at relative times
inside the phoneme), voicing and noise settings. Formant values are textbook averages for an adult
singer (Peterson & Barney; Lee et al. for Mandarin), slightly centralised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from singer_tasks.errors import PhonemeError

Formants = tuple[float, float, float]

# Vowel and approximant targets (F1, F2, F3) in Hz.
TARGETS: dict[str, Formants] = {
    "a": (750, 1250, 2600), "ae": (660, 1700, 2450), "ah": (620, 1200, 2550), "ao": (570, 880, 2450),
    "eh": (530, 1850, 2500), "er": (480, 1350, 1700), "ih": (400, 1950, 2600), "i": (300, 2300, 3000),
    "uh": (440, 1050, 2300), "u": (330, 750, 2300), "o": (500, 850, 2500), "e": (480, 1150, 2500),
    "E": (480, 1950, 2600), "v": (290, 1900, 2150), "i0": (350, 1450, 2700), "ir": (380, 1550, 1950),
    "ax": (500, 1400, 2500),
    # consonantal targets: nasal murmurs and approximants
    "m": (250, 1000, 2200), "n": (250, 1500, 2500), "ng": (250, 1150, 2300),
    "l": (360, 1000, 2800), "r_en": (320, 1060, 1400), "r_zh": (380, 1400, 1700),
    "w": (300, 650, 2200), "y": (280, 2200, 2900),
}  # fmt: skip

Trajectory = tuple[tuple[str, float], ...]  # (target name, relative time 0..1)


@dataclass(frozen=True)
class Sound:
    """How the built-in voice sings one phoneme."""

    kind: str  # vowel, nasal, liquid, glide, stop, affricate, fricative, aspirate, silence, breath
    trajectory: Trajectory = ()
    voiced: bool = False
    voice_gain: float = 1.0
    noise_band: tuple[float, float] | None = None
    noise_gain: float = 0.0
    closure: bool = False  # stops/affricates start with a silent (or voice-bar) closure
    aspirated: bool = False

    @property
    def targets(self) -> tuple[Formants, ...]:
        """The formant targets of the trajectory, in order."""
        return tuple(TARGETS[name] for name, _ in self.trajectory)


def _vowel(*points: tuple[str, float]) -> Sound:
    # Nasal murmur targets inside a final (an, ang...) are sung softer.
    return Sound("vowel", trajectory=points or (("ah", 0.0),), voiced=True)


def _steady(name: str) -> Sound:
    return _vowel((name, 0.0))


# Frication bands (Hz) by place.
_LABIAL = (1200.0, 8000.0)
_ALVEOLAR = (4000.0, 11000.0)
_POSTALVEOLAR = (2000.0, 7000.0)
_PALATAL = (2500.0, 8000.0)
_VELAR = (1200.0, 4000.0)
_GLOTTAL = (400.0, 5000.0)

_SILENCE = Sound("silence")
_BREATH = Sound("breath", trajectory=(("ax", 0.0),), noise_band=_GLOTTAL, noise_gain=0.05)


def _stop(band: tuple[float, float], voiced: bool, aspirated: bool) -> Sound:
    return Sound("stop", voiced=voiced, voice_gain=0.25, noise_band=band, noise_gain=0.2, closure=True,
                 aspirated=aspirated)  # fmt: skip


def _affricate(band: tuple[float, float], voiced: bool, aspirated: bool) -> Sound:
    return Sound("affricate", voiced=voiced, voice_gain=0.3, noise_band=band, noise_gain=0.22, closure=True,
                 aspirated=aspirated)  # fmt: skip


def _fricative(band: tuple[float, float], gain: float, voiced: bool = False, target: str = "ax") -> Sound:
    return Sound("fricative", trajectory=((target, 0.0),), voiced=voiced, voice_gain=0.35, noise_band=band,
                 noise_gain=gain)  # fmt: skip


def _sonorant(kind: str, target: str, gain: float) -> Sound:
    return Sound(kind, trajectory=((target, 0.0),), voiced=True, voice_gain=gain)


ENGLISH: dict[str, Sound] = {
    "aa": _steady("a"), "ae": _steady("ae"), "ah": _steady("ah"), "ao": _steady("ao"),
    "aw": _vowel(("a", 0.0), ("a", 0.45), ("u", 1.0)), "ay": _vowel(("a", 0.0), ("a", 0.45), ("i", 1.0)),
    "eh": _steady("eh"), "er": _steady("er"), "ey": _vowel(("eh", 0.0), ("eh", 0.5), ("i", 1.0)),
    "ih": _steady("ih"), "iy": _steady("i"), "ow": _vowel(("o", 0.0), ("o", 0.5), ("u", 1.0)),
    "oy": _vowel(("ao", 0.0), ("ao", 0.45), ("i", 1.0)), "uh": _steady("uh"), "uw": _steady("u"),
    "ax": _steady("ax"),
    "b": _stop(_LABIAL, True, False), "d": _stop(_ALVEOLAR, True, False), "g": _stop(_VELAR, True, False),
    "p": _stop(_LABIAL, False, True), "t": _stop(_ALVEOLAR, False, True), "k": _stop(_VELAR, False, True),
    "ch": _affricate(_POSTALVEOLAR, False, False), "jh": _affricate(_POSTALVEOLAR, True, False),
    "f": _fricative(_LABIAL, 0.08), "th": _fricative(_LABIAL, 0.07), "s": _fricative(_ALVEOLAR, 0.2),
    "sh": _fricative(_POSTALVEOLAR, 0.22), "v": _fricative(_LABIAL, 0.06, True),
    "dh": _fricative(_LABIAL, 0.05, True), "z": _fricative(_ALVEOLAR, 0.14, True),
    "zh": _fricative(_POSTALVEOLAR, 0.14, True),
    "hh": Sound("aspirate", trajectory=(("ax", 0.0),), noise_band=_GLOTTAL, noise_gain=0.12),
    "m": _sonorant("nasal", "m", 0.4), "n": _sonorant("nasal", "n", 0.4), "ng": _sonorant("nasal", "ng", 0.4),
    "l": _sonorant("liquid", "l", 0.7), "r": _sonorant("liquid", "r_en", 0.7),
    "w": _sonorant("glide", "w", 0.7), "y": _sonorant("glide", "y", 0.7),
}  # fmt: skip

_NASAL_FINALS = {"an": "n", "en": "n", "in": "n", "un": "n", "vn": "n", "ian": "n", "uan": "n", "van": "n",
                 "En": "n", "ang": "ng", "eng": "ng", "ing": "ng", "ong": "ng", "iang": "ng", "uang": "ng",
                 "iong": "ng"}  # fmt: skip
_FINAL_VOWELS: dict[str, tuple[tuple[str, float], ...]] = {
    "a": (("a", 0.0),), "o": (("o", 0.0),), "e": (("e", 0.0),), "E": (("E", 0.0),), "er": (("er", 0.0),),
    "i": (("i", 0.0),), "i0": (("i0", 0.0),), "ir": (("ir", 0.0),), "ix": (("i0", 0.0),), "iy": (("ir", 0.0),),
    "u": (("u", 0.0),), "v": (("v", 0.0),),
    "ai": (("a", 0.0), ("a", 0.4), ("i", 1.0)), "ao": (("a", 0.0), ("a", 0.4), ("u", 1.0)),
    "ei": (("eh", 0.0), ("eh", 0.4), ("i", 1.0)), "ou": (("o", 0.0), ("o", 0.4), ("u", 1.0)),
    "ia": (("i", 0.0), ("a", 0.25)), "ie": (("i", 0.0), ("E", 0.25)), "iao": (("i", 0.0), ("a", 0.25), ("u", 1.0)),
    "iu": (("i", 0.0), ("o", 0.3), ("u", 1.0)), "ua": (("u", 0.0), ("a", 0.25)), "uo": (("u", 0.0), ("o", 0.25)),
    "uai": (("u", 0.0), ("a", 0.25), ("i", 1.0)), "ui": (("u", 0.0), ("eh", 0.3), ("i", 1.0)),
    "ve": (("v", 0.0), ("E", 0.25)),
    "an": (("a", 0.0),), "en": (("e", 0.0),), "in": (("i", 0.0),), "un": (("u", 0.0), ("e", 0.3)),
    "vn": (("v", 0.0),), "ian": (("i", 0.0), ("E", 0.25)), "uan": (("u", 0.0), ("a", 0.25)),
    "van": (("v", 0.0), ("E", 0.25)), "En": (("E", 0.0),), "ang": (("a", 0.0),), "eng": (("e", 0.0),),
    "ing": (("i", 0.0),), "ong": (("u", 0.0), ("o", 0.2)), "iang": (("i", 0.0), ("a", 0.25)),
    "uang": (("u", 0.0), ("a", 0.25)), "iong": (("v", 0.0), ("o", 0.25)),
}  # fmt: skip


def _final(name: str) -> Sound:
    points = _FINAL_VOWELS[name]
    nasal = _NASAL_FINALS.get(name)
    if nasal is not None:
        last = points[-1][0]
        points = (*points, (last, 0.7), (nasal, 0.88))  # the vowel, then a nasal murmur tail
    return _vowel(*points)


MANDARIN: dict[str, Sound] = {name: _final(name) for name in _FINAL_VOWELS}
MANDARIN.update({
    "b": _stop(_LABIAL, False, False), "d": _stop(_ALVEOLAR, False, False), "g": _stop(_VELAR, False, False),
    "p": _stop(_LABIAL, False, True), "t": _stop(_ALVEOLAR, False, True), "k": _stop(_VELAR, False, True),
    "j": _affricate(_PALATAL, False, False), "q": _affricate(_PALATAL, False, True),
    "zh": _affricate(_POSTALVEOLAR, False, False), "ch": _affricate(_POSTALVEOLAR, False, True),
    "z": _affricate(_ALVEOLAR, False, False), "c": _affricate(_ALVEOLAR, False, True),
    "f": _fricative(_LABIAL, 0.08), "s": _fricative(_ALVEOLAR, 0.2), "sh": _fricative(_POSTALVEOLAR, 0.22),
    "x": _fricative(_PALATAL, 0.2), "h": _fricative(_VELAR, 0.12, target="ax"),
    "r": _fricative(_POSTALVEOLAR, 0.05, True, target="r_zh"),
    "m": _sonorant("nasal", "m", 0.4), "n": _sonorant("nasal", "n", 0.4), "l": _sonorant("liquid", "l", 0.7),
    "w": _sonorant("glide", "w", 0.7), "y": _sonorant("glide", "y", 0.7),
})  # fmt: skip

RESTS: dict[str, Sound] = {"SP": _SILENCE, "AP": _BREATH}

_STRESS = re.compile(r"^([A-Za-z]+)[012]$")


def lookup(phoneme: str, lang: str | None = None) -> Sound | None:
    """The Sound of one phoneme, or None when the built-in voice does not know it.

    `lang/phoneme` tags, ARPAbet in either case with stress digits, and opencpop names are accepted.
    Names shared by both inventories (s, sh, r, er, iy...) follow `lang`; without it, upper-case names
    are read as ARPAbet and lower-case names as Mandarin first.
    """
    if "/" in phoneme:
        lang, phoneme = phoneme.split("/", 1)
    if phoneme in RESTS:
        return RESTS[phoneme]
    match = _STRESS.match(phoneme)
    if match:
        phoneme, lang = match.group(1), lang or "en"
    if lang is None and phoneme.isupper() and phoneme.lower() in ENGLISH and phoneme not in ("E", "En"):
        lang = "en"
    if lang == "en":
        return ENGLISH.get(phoneme.lower()) or ENGLISH.get(phoneme)
    if lang == "zh":
        return MANDARIN.get(phoneme)
    return MANDARIN.get(phoneme) or ENGLISH.get(phoneme.lower())


def sounds_for(phonemes: tuple[str, ...], lang: str | None = None) -> list[Sound]:
    """Sounds for a phoneme sequence; raises PhonemeError naming every unknown phoneme."""
    sounds = [lookup(ph, lang) for ph in phonemes]
    unknown = sorted({ph for ph, s in zip(phonemes, sounds, strict=True) if s is None})
    if unknown:
        raise PhonemeError(
            f"the built-in voice does not know the phoneme(s) {unknown}; it sings ARPAbet (English, any case, "
            "stress digits allowed), opencpop Mandarin phonemes, SP and AP"
        )
    return [s for s in sounds if s is not None]
