"""Each format's rules, checked row by row on what an export writes, before it is marked done. Pure.

The record builders (formats.py, kto.py) already leave out what cannot be written; a row that
breaks a rule here is a bug, and the export fails naming the file, the row number and the rule
instead of shipping a file a trainer would trust blindly. ``RULES`` (also printed in every dataset
card) says what each rule checks.

Rules that look across rows (duplicates, one label per KTO completion, ties written in both orders)
hold per prompt: an export writes the rows of one prompt together, and tells the validator where a
prompt starts (``group``, ascending), so the validator keeps one prompt in memory, never the file.
Without a group (``group=None``, e.g. when checking a file from elsewhere) the whole file is one
group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from annotate.exports.options import TIE_COLUMN_FORMATS
from annotate.exports.texts import (
    SeenOnce,
    same_text,
    same_texts,
    text_key,
    text_problem,
    usable_text,
)

RULES: dict[str, str] = {
    "columns": "the row has exactly the format's columns",
    "text": "every text is a string, not empty, without NUL characters or a leading byte-order mark",
    "message": 'a message is {"role", "content"} with a known role',
    "prompt_roles": (
        "a prompt is an optional system message first, then user and assistant turns alternating "
        "from user, ending with a user turn"
    ),
    "completion": "chosen, rejected and completion are exactly one assistant message",
    "sft_roles": (
        "an SFT conversation is an optional system message, then user and assistant turns "
        "alternating from user, ending with an assistant turn"
    ),
    "chosen_is_rejected": "chosen and rejected differ (after folding white space)",
    "duplicate": "no row is written twice (same prompt and texts, after folding white space)",
    "label": "a KTO label is true or false",
    "kto_one_label": "one KTO row per (prompt, completion)",
    "margin": "a margin is a finite number, above 0 for a preference and 0 only for a tie",
    "tie": "a tie written under the split policy appears in both orders with margin 0",
    "hh_transcript": (
        'an HH-RLHF transcript starts with "\\n\\nHuman: ", alternates Human and Assistant turns '
        "and ends with an Assistant turn"
    ),
    "hh_prefix": "chosen and rejected share the transcript up to their final Assistant turn",
    "openai_input": 'the OpenAI input is {"messages": [...]}',
    "raw_vote": (
        "a raw vote has a known source and choice, a finite scale value, and appears once"
    ),
    "grouping": "the rows of one prompt are written together",
    "rating_row": (
        "a rating row has a response text, whole-number scores (overall and each aspect) and a "
        "known source, and each (rating, response) appears once"
    ),
    "ranking_row": (
        "a ranking row ranks every completion (dense ranks from 1), its shown order is a "
        "permutation of the completions, and each ranking appears once"
    ),
    "stepwise_row": (
        "a stepwise row has a string prompt, at least one step, and one boolean label per step"
    ),
    "steps_row": (
        "a step-label row has at least one step, one label (1, 0, -1 or null) and one note per "
        "step, and each vote appears once"
    ),
    "conversation_row": (
        "a conversation row has at least one turn, each with a user message, two response texts, "
        "a known choice (or none) and continuation, and each conversation appears once"
    ),
}

ROLES = ("system", "user", "assistant")
CHOICES = ("a", "b", "tie", "both_bad")
HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
HH_LAST = "\n\nAssistant: "
HH_HUMAN = "\n\nHuman: "


class InvalidRow(ValueError):
    """A row that breaks a rule of its format: ``row`` (1-based), ``rule`` (a key of RULES)."""

    def __init__(self, row: int, rule: str, detail: str):
        self.row, self.rule, self.detail = row, rule, detail
        super().__init__(f"row {row}: {rule} ({RULES[rule]}): {detail}")


class _Broken(Exception):
    def __init__(self, rule: str, detail: str):
        self.rule, self.detail = rule, detail


def _text(value: object, where: str) -> str:
    problem = text_problem(value)
    if problem:
        raise _Broken("text", f"{where} is {problem}")
    return value  # type: ignore[return-value]


def _columns(record: object, expected: frozenset[str]) -> dict:
    if not isinstance(record, dict):
        raise _Broken("columns", f"the row is {type(record).__name__}, not an object")
    if record.keys() != expected:
        raise _Broken("columns", f"columns {sorted(record)}, expected {sorted(expected)}")
    return record


_MESSAGE = frozenset(("role", "content"))


def _messages(value: object, where: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise _Broken("message", f"{where} is not a non-empty list of messages")
    for i, message in enumerate(value, start=1):
        if not isinstance(message, dict) or message.keys() != _MESSAGE:
            raise _Broken("message", f"{where} message {i} is not {{role, content}}")
        if message["role"] not in ROLES:
            raise _Broken("message", f"{where} message {i} has role {message['role']!r}")
        _text(message["content"], f"{where} message {i} content")
    return value


def _turns(messages: list[dict], where: str, *, last: str, rule: str) -> None:
    """System first if any, then user/assistant alternating from user, ending with ``last``."""
    roles = [m["role"] for m in messages]
    if roles[0] == "system":
        roles = roles[1:]
    if not roles:
        raise _Broken(rule, f"{where} has no user turn")
    for i, role in enumerate(roles):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise _Broken(rule, f"{where} turn {i + 1} is {role!r}, expected {expected!r}")
    if roles[-1] != last:
        raise _Broken(rule, f"{where} ends with a {roles[-1]!r} turn, expected {last!r}")


def _prompt_ok(value: object) -> bool:
    """The rules of ``_prompt`` in one pass, without saying what is wrong (the common case)."""
    if type(value) is not list or not value:
        return False
    turn = 0
    for i, message in enumerate(value):
        if type(message) is not dict or message.keys() != _MESSAGE:
            return False
        role = message["role"]
        if role == "system" and i == 0:
            pass
        elif role != ("user", "assistant")[turn % 2]:
            return False
        else:
            turn += 1
        if not usable_text(message["content"]):
            return False
    return turn % 2 == 1  # the last turn is the user's


def _prompt(value: object, where: str = "prompt") -> list[dict]:
    if _prompt_ok(value):
        return value  # type: ignore[return-value]
    messages = _messages(value, where)
    _turns(messages, where, last="user", rule="prompt_roles")
    return messages


def _reply(value: object, where: str) -> str:
    if type(value) is list and len(value) == 1:  # the common case first, in one pass
        message = value[0]
        if (
            type(message) is dict
            and message.keys() == _MESSAGE
            and message["role"] == "assistant"
            and usable_text(message["content"])
        ):
            return message["content"]
    if (
        not isinstance(value, list)
        or len(value) != 1
        or not isinstance(value[0], dict)
        or value[0].keys() != _MESSAGE
        or value[0]["role"] != "assistant"
    ):
        raise _Broken("completion", f"{where} is not one assistant message")
    return _text(value[0]["content"], f"{where} content")


def _one_human_turn(prefix: str) -> bool:
    """The common transcript prefix, checked without a regex: one usable Human turn."""
    return (
        prefix.startswith(HH_HUMAN)
        and prefix.find(HH_HUMAN, len(HH_HUMAN)) < 0
        and HH_LAST not in prefix
        and usable_text(prefix[len(HH_HUMAN) :])
    )


def _hh_turns(transcript: str, where: str) -> list[tuple[str, str]]:
    """The (speaker, text) turns of a transcript that starts with a Human turn and alternates."""
    if not transcript.startswith("\n\nHuman: "):
        raise _Broken("hh_transcript", f"{where} does not start with '\\n\\nHuman: '")
    parts = HH_TURN.split(transcript)
    # ['', 'Human', text, 'Assistant', text, ...]
    turns = list(zip(parts[1::2], parts[2::2], strict=True))
    for i, (speaker, text) in enumerate(turns):
        expected = "Human" if i % 2 == 0 else "Assistant"
        if speaker != expected:
            raise _Broken(
                "hh_transcript", f"{where} turn {i + 1} is {speaker}, expected {expected}"
            )
        _text(text, f"{where} turn {i + 1}")
    return turns


def _distinct(chosen: str, rejected: str) -> None:
    if same_text(chosen, rejected):
        raise _Broken("chosen_is_rejected", "chosen and rejected are the same text")


def _margin(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Broken("margin", f"margin {value!r} is not a finite number")
    if value < 0:
        raise _Broken("margin", f"margin {value!r} is negative")
    return float(value)


COLUMNS: dict[str, tuple[str, ...]] = {
    "trl-dpo-conversational": ("prompt", "chosen", "rejected"),
    "trl-dpo-standard": ("prompt", "chosen", "rejected"),
    "trl-reward": ("prompt", "chosen", "rejected", "margin"),
    "trl-kto": ("prompt", "completion", "label"),
    "sft-messages": ("messages",),
    "hh-rlhf": ("chosen", "rejected"),
    "openai-dpo": ("input", "preferred_output", "non_preferred_output"),
    "ranking": (
        "vote_id",
        "set_id",
        "prompt_id",
        "prompt_external_id",
        "prompt",
        "completions",
        "generators",
        "ranks",
        "shown_order",
        "all_bad",
        "aspects",
        "rater",
        "source",
        "rationale",
        "rewrite",
        "time_on_task_ms",
        "gold_ranks",
        "created_at",
    ),  # fmt: skip
    # and one column per aspect of the campaign (Validator's raw_columns)
    "ratings": (
        "rating_id",
        "set_id",
        "prompt_id",
        "prompt_external_id",
        "prompt",
        "response",
        "generator",
        "position",
        "overall",
        "rationale",
        "rater",
        "source",
        "time_on_task_ms",
        "created_at",
    ),  # fmt: skip
    "conversations": (
        "conversation_id",
        "rater",
        "status",
        "generators",
        "system",
        "turns",
        "messages",
        "created_at",
        "ended_at",
    ),  # fmt: skip
    "trl-stepwise": ("prompt", "completions", "labels"),
    "steps": (
        "vote_id",
        "set_id",
        "prompt_id",
        "prompt_external_id",
        "prompt",
        "completions",
        "generator",
        "labels",
        "notes",
        "rater",
        "source",
        "time_on_task_ms",
        "gold_labels",
        "created_at",
    ),  # fmt: skip
}


class Validator:
    """Checks the rows of one file of format ``fmt`` as they are written (``check``), then the
    end of the file (``close``). Raises InvalidRow at the first row that breaks a rule."""

    def __init__(self, fmt: str, *, tie_policy: str = "drop", raw_columns: Iterable[str] = ()):
        self.fmt = fmt
        self._aspect_columns: tuple[str, ...] = ()
        self.tie_policy = tie_policy
        columns = COLUMNS.get(fmt, tuple(raw_columns))
        if fmt == "ratings":
            columns += tuple(raw_columns)
            self._aspect_columns = tuple(raw_columns)
        if tie_policy == "keep" and fmt in TIE_COLUMN_FORMATS:
            columns += ("tie",)
        self.columns = frozenset(columns)
        self.rows = 0
        self._grouped = False
        self._group: object = None
        self._seen = SeenOnce(self._row_key, self._same_row)
        self._zero_margin: dict[tuple[str, str], int] = {}  # split ties waiting for their reverse
        self._checked_prompt: object = None  # the prompt object last checked (rows share it)
        self._check = {
            "trl-dpo-conversational": self._dpo_conversational,
            "trl-dpo-standard": self._dpo_standard,
            "trl-reward": self._reward,
            "trl-kto": self._kto,
            "sft-messages": self._sft,
            "hh-rlhf": self._hh,
            "openai-dpo": self._openai,
            "ranking": self._ranking,
            "ratings": self._rating,
            "trl-stepwise": self._stepwise,
            "steps": self._steps,
            "conversations": self._conversation,
        }.get(fmt, self._raw)

    def check(self, record: dict, *, group: object = None) -> None:
        self.rows += 1
        try:
            self._enter(group)
            self._check(_columns(record, self.columns))
        except _Broken as broken:
            raise InvalidRow(self.rows, broken.rule, broken.detail) from None

    def check_group(self, records: list[dict], group: object) -> None:
        """``check`` of each of ``records``, the rows of one group written together: the group is
        entered once, then each row gets its columns' and its format's checks, nothing more."""
        if not records:
            return
        try:
            self._enter(group)
        except _Broken as broken:
            raise InvalidRow(self.rows + 1, broken.rule, broken.detail) from None
        check, columns = self._check, self.columns
        for record in records:
            self.rows += 1
            try:
                if type(record) is not dict or record.keys() != columns:
                    _columns(record, columns)  # raises, naming what is wrong
                check(record)
            except _Broken as broken:
                raise InvalidRow(self.rows, broken.rule, broken.detail) from None

    def _enter(self, group: object) -> None:
        """The row about to be checked belongs to ``group``: a new group closes the last one."""
        if group is not None and (not self._grouped or group != self._group):
            if self._grouped and not group > self._group:  # type: ignore[operator]
                raise _Broken("grouping", f"prompt {group!r} comes after {self._group!r}")
            self._end_group()
            self._grouped, self._group = True, group

    def close(self) -> None:
        try:
            self._end_group()
        except _Broken as broken:
            raise InvalidRow(self.rows, broken.rule, broken.detail) from None

    # --- across the rows of one prompt --------------------------------------------------------

    def _prompt_key(self, prompt: object) -> object:
        """The prompt's part of a duplicate key: nothing when rows come grouped by prompt."""
        if self._grouped:
            return None
        if isinstance(prompt, str):
            return text_key(prompt)
        return tuple((m["role"], text_key(m["content"])) for m in prompt)  # type: ignore[union-attr]

    def _row_key(self, parts: tuple) -> tuple:
        """The duplicate key of a row from its (prompt, *texts) parts."""
        return (self._prompt_key(parts[0]), *(text_key(t) for t in parts[1:]))

    def _same_row(self, p: tuple, q: tuple) -> bool:
        if not self._grouped and self._prompt_key(p[0]) != self._prompt_key(q[0]):
            return False
        return same_texts(p[1:], q[1:])

    def _once(self, parts: tuple, rule: str = "duplicate", what: str = "this row") -> None:
        if not self._seen.add(parts):
            raise _Broken(rule, f"{what} was already written for this prompt")

    def _end_group(self) -> None:
        if self._zero_margin:
            row = next(iter(self._zero_margin.values()))
            raise _Broken("tie", f"the tie at row {row} has no row in the other order")
        self._seen.clear()

    def _preference(self, prompt, chosen: str, rejected: str, margin=None, tie=None) -> None:
        _distinct(chosen, rejected)
        self._once((prompt, chosen, rejected))
        if margin is None:
            return
        if tie:
            if margin != 0:
                raise _Broken("margin", f"a tie has margin {margin}, expected 0")
        elif margin == 0:
            if self.tie_policy != "split":
                raise _Broken("margin", "a preference has margin 0")
            keys = (text_key(chosen), text_key(rejected))
            reverse = (keys[1], keys[0])
            if reverse in self._zero_margin:
                del self._zero_margin[reverse]
            else:
                self._zero_margin[keys] = self.rows

    @staticmethod
    def _tie_flag(record: dict) -> bool | None:
        if "tie" not in record:
            return None
        if not isinstance(record["tie"], bool):
            raise _Broken("tie", f"tie {record['tie']!r} is not true or false")
        return record["tie"]

    def _prompt(self, value: object, where: str = "prompt") -> object:
        """A prompt checked once per object: an export's rows of one prompt share it."""
        if value is not self._checked_prompt:
            _prompt(value, where)
            self._checked_prompt = value
        return value

    # --- one checker per format (the columns are already checked) -----------------------------

    def _dpo_conversational(self, record: dict) -> None:
        prompt = self._prompt(record["prompt"])
        chosen, rejected = (
            _reply(record["chosen"], "chosen"),
            _reply(record["rejected"], "rejected"),
        )
        self._preference(prompt, chosen, rejected, tie=self._tie_flag(record))

    def _dpo_standard(self, record: dict) -> None:
        prompt = _text(record["prompt"], "prompt")
        chosen, rejected = _text(record["chosen"], "chosen"), _text(record["rejected"], "rejected")
        self._preference(prompt, chosen, rejected, tie=self._tie_flag(record))

    def _reward(self, record: dict) -> None:
        prompt = self._prompt(record["prompt"])
        chosen, rejected = (
            _reply(record["chosen"], "chosen"),
            _reply(record["rejected"], "rejected"),
        )
        margin = _margin(record["margin"])
        self._preference(prompt, chosen, rejected, margin, self._tie_flag(record))

    def _kto(self, record: dict) -> None:
        prompt = self._prompt(record["prompt"])
        completion = _reply(record["completion"], "completion")
        if not isinstance(record["label"], bool):
            raise _Broken("label", f"label {record['label']!r} is not true or false")
        self._once((prompt, completion), "kto_one_label", "this completion")

    def _sft(self, record: dict) -> None:
        messages = _messages(record["messages"], "messages")
        _turns(messages, "messages", last="assistant", rule="sft_roles")
        self._once((messages[:-1], messages[-1]["content"]))

    def _hh(self, record: dict) -> None:
        parts = []
        for where in ("chosen", "rejected"):
            transcript = record[where]
            if type(transcript) is not str:
                _text(transcript, where)  # raises: not a string
            cut = transcript.rfind(HH_LAST)
            if cut < 0:
                raise _Broken("hh_transcript", f"{where} does not end with an Assistant turn")
            prefix, reply = transcript[:cut], transcript[cut + len(HH_LAST) :]
            if prefix != self._checked_prompt:  # the rows of a prompt share it: parse it once
                if not _one_human_turn(prefix):
                    turns = _hh_turns(prefix, where)
                    if turns[-1][0] != "Human":
                        raise _Broken(
                            "hh_transcript", f"{where}'s turn before the last is not Human"
                        )
                self._checked_prompt = prefix
            _text(reply, f"{where}'s last turn")
            if HH_HUMAN in reply or HH_LAST in reply:
                raise _Broken("hh_transcript", f"{where}'s last turn holds another turn marker")
            parts.append((prefix, reply))
        (prefix, chosen), (other, rejected) = parts
        if prefix != other:
            raise _Broken("hh_prefix", "chosen and rejected differ before their last turn")
        self._preference(prefix, chosen, rejected)

    def _openai(self, record: dict) -> None:
        given = record["input"]
        if not isinstance(given, dict) or given.keys() != {"messages"}:
            raise _Broken("openai_input", "input is not {messages}")
        prompt = self._prompt(given["messages"], "input messages")
        chosen = _reply(record["preferred_output"], "preferred_output")
        rejected = _reply(record["non_preferred_output"], "non_preferred_output")
        self._preference(prompt, chosen, rejected)

    def _ranking(self, record: dict) -> None:
        self._prompt(record["prompt"])
        completions = record["completions"]
        if not isinstance(completions, list) or len(completions) < 2:
            raise _Broken("ranking_row", "fewer than two completions")
        for i, text in enumerate(completions):
            _text(text, f"completion {i}")
        n = len(completions)
        ranks = record["ranks"]
        if (
            not isinstance(ranks, list)
            or len(ranks) != n
            or any(isinstance(r, bool) or not isinstance(r, int) for r in ranks)
            or sorted(set(ranks)) != list(range(1, max(ranks) + 1))
        ):
            raise _Broken("ranking_row", f"ranks {ranks!r} are not dense ranks of {n} completions")
        if sorted(record["shown_order"]) != list(range(n)):
            raise _Broken("ranking_row", "shown_order is not a permutation of the completions")
        self._once(("", str(record["vote_id"])), "ranking_row", f"ranking {record['vote_id']}")

    def _rating(self, record: dict) -> None:
        self._prompt(record["prompt"])
        _text(record["response"], "response")
        for name in ("overall", *self._aspect_columns):
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
                raise _Broken("rating_row", f"{name} {value!r} is not a score")
        if record["source"] not in ("human", "judge"):
            raise _Broken("rating_row", f"source {record['source']!r}")
        key = f"{record['rating_id']}:{record['response']}"
        self._once(("", key), "rating_row", f"rating {record['rating_id']}")

    def _step_texts(self, completions: object, rule: str) -> int:
        if not isinstance(completions, list) or not completions:
            raise _Broken(rule, "no steps")
        for i, text in enumerate(completions):
            _text(text, f"step {i + 1}")
        return len(completions)

    def _stepwise(self, record: dict) -> None:
        _text(record["prompt"], "prompt")
        n = self._step_texts(record["completions"], "stepwise_row")
        labels = record["labels"]
        if not isinstance(labels, list) or len(labels) != n:
            raise _Broken("stepwise_row", f"{n} steps but labels {labels!r}")
        if any(type(label) is not bool for label in labels):
            raise _Broken("stepwise_row", f"labels {labels!r} are not all booleans")
        self._once(
            (record["prompt"], "\x1f".join(record["completions"])),
            "duplicate",
            "the same prompt and steps",
        )

    def _conversation(self, record: dict) -> None:
        turns = record["turns"]
        if not isinstance(turns, list) or not turns:
            raise _Broken("conversation_row", "no turns")
        for i, turn in enumerate(turns, start=1):
            _text(turn["user"], f"turn {i}'s user message")
            responses = turn["responses"]
            if not isinstance(responses, list) or len(responses) != 2:
                raise _Broken("conversation_row", f"turn {i} does not have two responses")
            for text in responses:
                if not isinstance(text, str) or "\x00" in text:
                    raise _Broken("conversation_row", f"turn {i} has a response that is not text")
            if turn["choice"] not in ("", *CHOICES):
                raise _Broken("conversation_row", f"turn {i}'s choice {turn['choice']!r}")
            if turn["continued_with"] not in ("", "a", "b", "rewrite"):
                raise _Broken(
                    "conversation_row", f"turn {i} continued with {turn['continued_with']!r}"
                )
            if turn["shown_left"] not in (0, 1):
                raise _Broken("conversation_row", f"turn {i}'s shown_left")
        self._messages_ok(record["messages"])
        key = str(record["conversation_id"])
        self._once(("", key), "conversation_row", f"conversation {key}")

    def _messages_ok(self, messages: object) -> None:
        _messages(messages, "messages")

    def _steps(self, record: dict) -> None:
        self._prompt(record["prompt"])
        n = self._step_texts(record["completions"], "steps_row")
        labels, notes = record["labels"], record["notes"]
        if (
            not isinstance(labels, list)
            or len(labels) != n
            or any(x is not None and (type(x) is not int or x not in (1, 0, -1)) for x in labels)
        ):
            raise _Broken("steps_row", f"labels {labels!r} for {n} steps")
        if not isinstance(notes, list) or len(notes) != n or any(type(x) is not str for x in notes):
            raise _Broken("steps_row", f"notes for {n} steps")
        gold = record["gold_labels"]
        if gold is not None and (not isinstance(gold, list) or len(gold) != n):
            raise _Broken("steps_row", f"gold labels {gold!r} for {n} steps")
        self._once(("", str(record["vote_id"])), "steps_row", f"vote {record['vote_id']}")

    def _raw(self, record: dict) -> None:
        if record["source"] not in ("human", "judge", "adjudicated"):
            raise _Broken("raw_vote", f"source {record['source']!r}")
        if record["choice"] not in CHOICES:
            raise _Broken("raw_vote", f"choice {record['choice']!r}")
        value = record["scale_value"]
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _Broken("raw_vote", f"scale_value {value!r} is not a finite number")
        for name, cell in record.items():
            if isinstance(cell, str) and "\x00" in cell:
                raise _Broken("text", f"{name} holds a NUL character")
        judgment = record["judgment_id"]
        self._once(("", str(judgment)), "raw_vote", f"judgment {judgment}")


def validate_records(fmt: str, records: Iterable[dict], **options) -> int:
    """Check a whole file's records (one group: memory grows with the file). Returns the count."""
    validator = Validator(fmt, **options)
    for record in records:
        validator.check(record)
    validator.close()
    return validator.rows
