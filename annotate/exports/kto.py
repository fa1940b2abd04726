"""KTO rows: one per (prompt, completion), with one label from all the evidence on the completion.

KTO data is unpaired: a row says that a completion of a prompt is desirable or not. A prompt with
three generators has three pairs, so each response sits in two of them and can win one and lose
the other; writing a row per pair side would write it twice, once true and once false. Instead
the evidence of all the prompt's pairs is pooled per completion first (the rules below are also
written into every KTO dataset card, see ``KTO_RULES``):

1. **One completion per text.** Completions of a prompt with the same text (after folding white
   space) are one completion, whichever candidates or rewrites they came from. The row carries
   the text of its first occurrence (pairs in id order).
2. **Evidence.** Every comparison a pair contributes under the export's policies (the same ones
   the paired formats would write) is a win for the chosen text and a loss for the rejected one.
   A tie kept or split by the tie policy is half a win and half a loss for each side. Pairs left
   out by the filters contribute nothing.
3. **Label.** A completion's win share is wins / (wins + losses). Share ≥ ``kto_threshold`` →
   desirable (``label: true``); share ≤ 1 − ``kto_threshold`` → undesirable (``false``); in
   between the completion is *contested*: left out (``kto_contested: drop``, the default) or
   labelled as ``kto_contested`` says (desirable / undesirable).
"""

from __future__ import annotations

from collections.abc import Iterator

from annotate.exports.formats import Comparison
from annotate.exports.texts import text_key

KTO_RULES = __doc__.split("rules below", 1)[1].split("\n\n", 1)[1].strip()


class Completions:
    """The distinct completions of one prompt with their wins and losses, in first-seen order.

    Most prompts have one pair: its two sides are two completions (a comparison never holds the
    same text twice), so texts are only folded into keys once a second comparison comes."""

    def __init__(self) -> None:
        self._only: Comparison | None = None  # the prompt's comparison while it is the only one
        self._by_key: dict[str, list] = {}  # text key -> [text, wins, losses, occurrences]

    def _entry(self, text: str) -> list:
        key = text_key(text)
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._by_key[key] = [text, 0.0, 0.0, 0]
        return entry

    def add(self, comparison: Comparison) -> None:
        if self._only is None and not self._by_key:
            self._only = comparison
            return
        if self._only is not None:
            self._pool(self._only)
            self._only = None
        self._pool(comparison)

    def _pool(self, comparison: Comparison) -> None:
        chosen, rejected = self._entry(comparison.chosen), self._entry(comparison.rejected)
        chosen[3] += 1
        rejected[3] += 1
        if comparison.is_tie:
            for entry in (chosen, rejected):
                entry[1] += 0.5
                entry[2] += 0.5
        else:
            chosen[1] += 1
            rejected[2] += 1

    def _entries(self) -> list[list]:
        c = self._only
        if c is None:
            return list(self._by_key.values())
        win, loss = (0.5, 0.5) if c.is_tie else (1.0, 0.0)
        return [[c.chosen, win, loss, 1], [c.rejected, loss, win, 1]]

    def labelled(
        self, *, threshold: float, contested: str, counts: dict
    ) -> Iterator[tuple[str, bool]]:
        """(text, label) per completion. ``counts`` adds up ``sides`` (comparison sides pooled),
        ``completions`` (distinct texts) and how they were labelled: desirable, undesirable,
        contested (left out) or contested_labelled."""
        for text, wins, losses, occurrences in self._entries():
            counts["sides"] = counts.get("sides", 0) + occurrences
            counts["completions"] = counts.get("completions", 0) + 1
            share = wins / (wins + losses)
            if share >= threshold:
                label = True
            elif share <= 1 - threshold:
                label = False
            elif contested == "drop":
                counts["contested"] = counts.get("contested", 0) + 1
                continue
            else:
                counts["contested_labelled"] = counts.get("contested_labelled", 0) + 1
                label = contested == "desirable"
            key = "desirable" if label else "undesirable"
            counts[key] = counts.get(key, 0) + 1
            yield text, label

    def __len__(self) -> int:
        return len(self._by_key) or (2 if self._only is not None else 0)

    def clear(self) -> None:
        self._only = None
        self._by_key.clear()
