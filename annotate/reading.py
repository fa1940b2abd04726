"""How long a text takes to read, fairly across scripts: the one measure behind the minimum read
time (services/judgments.py ``required_read_ms``) and the length-bias statistics
(analytics/bias.py, rows from selectors/analytics.py).

A character count is not a reading length: a Korean sentence holds in 18 Hangul syllables what an
English one says in 60 characters, so counted in characters a Korean answer looks a third as long
to read as it is. Each script is measured in its own unit, at a silent reading rate for that unit,
and every rate is anchored to the same content taking the same time to read:

* Alphabetic scripts (Latin, Cyrillic, Greek, ...; digits too): 238 words per minute, the mean
  silent reading rate of adults for English non-fiction over 190 studies (Brysbaert 2019, "How many
  words do we read per minute? A review and meta-analysis of reading rate", J. Mem. Lang. 109,
  104047). A word is a run of letters or digits; one longer than ``LETTERS_PER_WORD`` counts as
  that many standard words (``len / 5``), so long tokens (URLs, code, compounds) take longer, as
  Brysbaert finds longer words do. Spaces and punctuation cost nothing, in every script.
* Hangul syllable blocks: 400 per minute. Korean is not among the IReST languages; the figure uses
  their cross-language mean. IReST (Trauzettel-Klosinski & Dietz 2012, "Standardized assessment
  of reading performance: the new International Reading Speed Texts IReST", IOVS 53(9)
  5452-5461) matched ten texts for content, length and difficulty in 17 languages: on average
  370 syllables/min at 1.42 texts/min, i.e. ~261 syllables per text, against English's 228 words/min
  at 1.49 texts/min, ~153 words per text. The same content then takes 261/153 = 1.7 syllables per
  English word: 238 x 1.7 = ~405 syllables/min, rounded to 400. (The one Korean norm found, Rhiu
  et al. 2017, Korean J. Ophthalmol. 31(3), 202 spaced words/min silent, is for single sentences
  from second-grade textbooks, which read much faster than adult prose.)
* CJK ideographs (Han characters, hanja, kanji): 240 per minute. In IReST, Chinese (1.67 texts/min,
  ~255 characters/min aloud) needs about one character per English word of the same text:
  238 x 1.0, rounded.
* Kana (hiragana, katakana): 450 per minute. Japanese in IReST reads 1.21 texts/min at
  ~357 characters/min, ~295 characters per text, 1.9 per English word: 238 x 1.9 = ~459, rounded.
  (Kanji in Japanese text count at the ideograph rate above, which makes mixed Japanese a little
  slower to read than this measure's kana-only figure; good enough for a minimum.)

``reading_seconds`` is the estimate; ``reading_length`` says it in English-equivalent characters
(standard words of five characters, the unit of typing rates), the unit of the campaign setting
``min_read_ms_per_1k_chars``: an English text's reading length stays close to its character count
(within ~15 % on ordinary prose), so existing campaigns keep their intent, and a Korean answer of
the same content now gets about the same minimum read time as the English one instead of a third.
"""

from __future__ import annotations

import re

WORDS_PER_MINUTE = 238  # alphabetic scripts, silent (Brysbaert 2019)
LETTERS_PER_WORD = 5  # a standard word
HANGUL_PER_MINUTE = 400  # syllable blocks (IReST cross-language mean, anchored to 238 wpm)
IDEOGRAPHS_PER_MINUTE = 240  # Han characters (IReST Chinese, anchored to 238 wpm)
KANA_PER_MINUTE = 450  # hiragana and katakana (IReST Japanese, anchored to 238 wpm)

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
# Alphabetic words: letters and digits that are none of the above (\w less underscore).
_WORD = re.compile(
    r"[^\W_\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    r"\U00020000-\U0003134f\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]+"
)
_SECONDS_PER_WORD = 60 / WORDS_PER_MINUTE


def reading_seconds(text: str) -> float:
    """Estimated silent reading time of ``text`` in seconds (see the module's docstring)."""
    words = sum(max(1.0, len(w) / LETTERS_PER_WORD) for w in _WORD.findall(text))
    if text.isascii():
        return words * _SECONDS_PER_WORD
    hangul = _HANGUL.subn("", text)[1]
    ideographs = _IDEOGRAPHS.subn("", text)[1]
    kana = _KANA.subn("", text)[1]
    return (
        words * _SECONDS_PER_WORD
        + hangul * 60 / HANGUL_PER_MINUTE
        + ideographs * 60 / IDEOGRAPHS_PER_MINUTE
        + kana * 60 / KANA_PER_MINUTE
    )


def reading_length(text: str) -> int:
    """The reading time of ``text`` in English-equivalent characters (five per standard word at
    238 words a minute): about 3 per Hangul syllable, 5 per ideograph, 2.6 per kana."""
    return round(reading_seconds(text) / _SECONDS_PER_WORD * LETTERS_PER_WORD)
