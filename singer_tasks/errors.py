"""Every error singer_tasks raises, in one tree.

Torch-free and music21-free, so the API may import it. Each class has one stable `code` (what a job
record stores and the API's `Problem.code` carries) and the HTTP `status` the API answers with; each
message names the file, field or setting at fault and what to do about it.

    SingerError
      SettingsError              a SINGER_* variable is invalid (also a taskkit ConfigError)
      ScoreError                 the user's score
        UnreadableScore, ScoreTooLarge > (SongTooLong, ParseTimeExceeded), NoNotes, NoLyrics, PartNotFound,
        UnsupportedLanguage, UnreadableLyric, DictionaryError
      PhraseFormatError          a .ds segment or phrase
      VoiceError                 loading or running a voice
        VoiceNotFound, VoiceConfigError > PrecisionError, CheckpointError, PhonemeError, RenderInputError
      JobError                   job and credit transitions
        InsufficientCredits, TooManyJobs, JobNotFound, JobStateError
"""

from __future__ import annotations

from taskkit.errors import ConfigError


class SingerError(Exception):
    """Base of every singer_tasks error: `code` is stable snake_case, `status` the HTTP status to answer."""

    code = "singer_error"
    status = 400


class SettingsError(SingerError, ConfigError):
    """Raised at start when a SINGER_* environment variable is invalid (names the variable)."""

    code = "bad_setting"
    status = 500


# --- scores -------------------------------------------------------------------------------------


class ScoreError(SingerError, ValueError):
    """Base of every error about a user's score."""

    code = "score_error"
    status = 422


class UnreadableScore(ScoreError):
    """Raised when the file is not a MusicXML score we can read (corrupt, wrong format, unsafe XML)."""

    code = "unreadable_score"
    status = 415


class ScoreTooLarge(ScoreError):
    """Raised when the file, its archive, or the song it describes is over a configured limit."""

    code = "score_too_large"
    status = 413


class SongTooLong(ScoreTooLarge):
    """Raised when the sung line lasts longer than a job may render."""

    code = "song_too_long"


class ParseTimeExceeded(ScoreTooLarge):
    """Raised when reading a score takes longer than the parse budget (permanent: retrying costs the same)."""

    code = "parse_time_exceeded"


class PitchOutOfRange(ScoreError):
    """Raised when a sung note lies outside MIDI's pitch range (C-1 to G9): a wrong octave in the file."""

    code = "pitch_out_of_range"


class NoNotes(ScoreError):
    """Raised when the chosen part (or the whole score) holds no notes."""

    code = "no_notes"


class NoLyrics(ScoreError):
    """Raised when no part, or not the chosen part or verse, carries lyrics."""

    code = "no_lyrics"


class PartNotFound(ScoreError):
    """Raised when a part forced by index or name does not exist in the score."""

    code = "part_not_found"


class UnsupportedLanguage(ScoreError):
    """Raised when the lyrics' language is not one we (or the chosen voice) can sing."""

    code = "unsupported_language"


class UnreadableLyric(ScoreError):
    """Raised when a lyric cannot be read in its language (no known reading for a character or word)."""

    code = "unreadable_lyric"


class DictionaryError(ScoreError):
    """Raised when a phoneme dictionary file is missing or malformed (names the file and line)."""

    code = "bad_dictionary"
    status = 500


class PhraseFormatError(SingerError, ValueError):
    """Raised when a .ds segment or a phrase is malformed (names the field and what is wrong)."""

    code = "bad_phrase"
    status = 422


# --- voices -------------------------------------------------------------------------------------


class VoiceError(SingerError):
    """Base of every error raised while finding, loading or running a voice."""

    code = "voice_error"
    status = 500


class VoiceNotFound(VoiceError):
    """Raised when no installed voice has the requested name."""

    code = "voice_not_found"
    status = 404


class VoiceConfigError(VoiceError):
    """Raised when a voice's manifest or configuration is missing, malformed or inconsistent."""

    code = "voice_unavailable"


class PrecisionError(VoiceConfigError):
    """Raised when a precision setting is not one of exact, fast, auto."""

    code = "bad_precision"


class CheckpointError(VoiceError):
    """Raised when a checkpoint or model file is missing, truncated or does not match its config."""

    code = "bad_checkpoint"


class PhonemeError(VoiceError):
    """Raised when a lyric needs a phoneme (or dictionary entry) the voice does not have (names it)."""

    code = "voice_lacks_phoneme"
    status = 422


class RenderInputError(VoiceError):
    """Raised when a phrase cannot be rendered (empty, too long, bad curves, unknown sampler)."""

    code = "bad_render_input"
    status = 422


# --- jobs and credits ---------------------------------------------------------------------------


class JobError(SingerError):
    """Base of job and credit errors."""

    code = "job_error"


class InsufficientCredits(JobError):
    """Raised when the balance cannot cover what the job reserves."""

    code = "insufficient_credits"
    status = 402


class TooManyJobs(JobError):
    """Raised when the user already has the maximum number of jobs in flight."""

    code = "too_many_jobs"
    status = 429


class JobNotFound(JobError):
    """Raised when a job does not exist or belongs to someone else."""

    code = "job_not_found"
    status = 404


class JobStateError(JobError):
    """Raised when a transition is asked of a job in a state that does not allow it."""

    code = "job_state"
    status = 409
