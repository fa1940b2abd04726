"""Invite raters in bulk: a CSV of names and emails, or a count of anonymous accounts, each with a
one-time link. One set of rules for the people page, the API and ``manage.py invite_raters``.

* **CSV** (``invite_csv_parse``): a header row naming the columns, ``email`` required, ``name``
  optional, any other column refused; one rater per line. Every bad line is reported by its
  number and nothing is stored if there is one. An email that belongs to an account reuses it
  (enrolled; its link only leads to the sign-in page, so an invitation never hands out an existing
  account); otherwise a new rater account without a password is made, and its link signs the
  person in once and offers to set a password.
* **Anonymous** (``invitations_anonymous_create``): N new rater accounts without names, each link
  signing its holder in as that rater.

Both enroll the raters at once (using the link enrolls again, should an admin have unenrolled
them meanwhile: the invitation was theirs). A link is the invitation's id signed with
django.core.signing; ``invitation_redeem`` claims the row with a conditional UPDATE, so a link
works once, and not after ``INVITE_LINK_DAYS``.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from annotate.models import Campaign, Enrollment, Invitation, User
from annotate.validation import text_check

INVITE_SALT = "annotate.invitation"
CSV_COLUMNS = ("name", "email")
MAX_INVITES = 1000  # lines of one CSV, or anonymous accounts at once
MAX_INVITE_CSV_CHARS = 500_000  # a thousand lines of long names and emails
MAX_NAME = 150  # User.first_name
MAX_EMAIL = 254  # User.email
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


class InviteError(Exception):
    """Input that cannot be used: ``problems`` lists each (a CSV's, by line number); a 400."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class InviteLinkError(Exception):
    """A link that cannot be used, and the status to answer with (400 forged, 410 used or expired)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InviteLine:
    line: int
    name: str
    email: str


def link_days() -> int:
    return int(getattr(settings, "INVITE_LINK_DAYS", 7))


# --- the CSV ------------------------------------------------------------------------------------


def invite_csv_decode(data: bytes) -> str:
    """An uploaded file as text: UTF-8 (a byte-order mark is allowed)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InviteError(
            [gettext("The file is not UTF-8 text (byte %(at)s).") % {"at": exc.start + 1}]
        ) from None


def _header(row: list[str]) -> list[str]:
    columns = [c.strip().lower() for c in row]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        raise InviteError(
            [
                gettext("Line 1: unknown column(s) %(names)s; the columns are name and email.")
                % {"names": ", ".join(repr(c[:40]) for c in unknown)}
            ]
        )
    if "email" not in columns:
        raise InviteError([gettext("Line 1: the header needs an email column (name, email).")])
    if len(set(columns)) != len(columns):
        raise InviteError([gettext("Line 1: a column is named twice.")])
    return columns


def _line(number: int, values: dict[str, str]) -> InviteLine:
    """One line's name and email, or ValidationError saying what is wrong with it."""
    name = text_check(
        values.get("name", "").strip(),
        field=gettext("The name"),
        max_length=MAX_NAME,
        one_line=True,
    )
    email = text_check(
        values["email"].strip(), field=gettext("The email"), max_length=MAX_EMAIL, one_line=True
    )
    if not email:
        raise ValidationError(gettext("The email is missing."))
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            gettext("%(email)s is not an email address.") % {"email": repr(email[:80])}
        ) from None
    return InviteLine(line=number, name=name, email=email)


def invite_csv_parse(text: str) -> list[InviteLine]:
    """The CSV's raters, or InviteError listing every bad line (numbered as in the file)."""
    if not isinstance(text, str) or not text.strip():
        raise InviteError(
            [gettext("The CSV is empty: give a header (name,email) and one line per rater.")]
        )
    if len(text) > MAX_INVITE_CSV_CHARS:
        raise InviteError(
            [
                gettext("The CSV is too long (at most %(n)s characters).")
                % {"n": MAX_INVITE_CSV_CHARS}
            ]
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[str] = []
    lines: list[InviteLine] = []
    seen: dict[str, int] = {}
    try:
        columns = None
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines are allowed
            if columns is None:
                columns = _header(row)
                continue
            if len(row) != len(columns):
                problems.append(
                    gettext("Line %(n)s: %(found)s field(s), the header has %(want)s.")
                    % {"n": number, "found": len(row), "want": len(columns)}
                )
                continue
            try:
                line = _line(number, dict(zip(columns, row, strict=True)))
            except ValidationError as exc:
                problems.append(
                    gettext("Line %(n)s: %(problem)s") % {"n": number, "problem": exc.messages[0]}
                )
                continue
            key = line.email.lower()
            if key in seen:
                problems.append(
                    gettext("Line %(n)s: %(email)s is already on line %(first)s.")
                    % {"n": number, "email": line.email, "first": seen[key]}
                )
                continue
            seen[key] = number
            lines.append(line)
            if len(lines) > MAX_INVITES:
                raise InviteError([gettext("At most %(n)s raters at once.") % {"n": MAX_INVITES}])
    except csv.Error as exc:
        problems.append(
            gettext("Line %(n)s: not CSV (%(problem)s).")
            % {"n": reader.line_num, "problem": str(exc)}
        )
    if columns is None:
        raise InviteError([gettext("The CSV has no header (name,email).")])
    if not lines and not problems:
        problems.append(gettext("The CSV has a header but no rater."))
    if problems:
        raise InviteError(problems)
    return lines


# --- creating invitations -----------------------------------------------------------------------


def _usernames_for(emails: list[str]) -> list[str]:
    """An account name per email: the email itself (made safe for a username), or with a random
    suffix when that name is taken. One query for the whole list."""
    bases = [_USERNAME_UNSAFE.sub("-", email.lower())[:130] for email in emails]
    taken = set(
        User.objects.annotate(name=Lower("username"))
        .filter(name__in=bases)
        .values_list("name", flat=True)
    )
    names = []
    for base in bases:
        name = base if base not in taken else f"{base}-{secrets.token_hex(4)}"
        taken.add(name)
        names.append(name)
    return names


def _existing_accounts(lines: list[InviteLine]) -> dict[str, User]:
    """email (lower case) -> the one account with it; a line whose email is ambiguous or belongs
    to a disabled account is a problem of that line."""
    wanted = {line.email.lower() for line in lines}
    found: dict[str, list[User]] = {}
    for user in User.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=wanted):
        found.setdefault(user.email.lower(), []).append(user)
    problems = []
    for line in lines:
        users = found.get(line.email.lower(), [])
        if len(users) > 1:
            problems.append(
                gettext("Line %(n)s: more than one account has the email %(email)s.")
                % {"n": line.line, "email": line.email}
            )
        elif users and not users[0].is_active:
            problems.append(
                gettext("Line %(n)s: the account of %(email)s is disabled.")
                % {"n": line.line, "email": line.email}
            )
    if problems:
        raise InviteError(problems)
    return {email: users[0] for email, users in found.items()}


def _new_raters(people: list[tuple[str, str, str]]) -> list[User]:
    """New rater accounts without a password, one insert for all: (username, email, name) each,
    already checked (the CSV's rules, or a generated name)."""
    users = []
    for username, email, name in people:
        user = User(username=username, email=email, first_name=name, role=User.Role.RATER)
        user.set_unusable_password()
        users.append(user)
    try:
        with transaction.atomic():
            return User.objects.bulk_create(users)
    except IntegrityError:
        # An account name taken between the check and the insert (two admins inviting the
        # same people at once): nothing is stored, and sending again picks fresh names.
        raise InviteError(
            [gettext("Some of these accounts were made at the same moment; send it again.")]
        ) from None


def _invite(
    *, campaign: Campaign, users: list[tuple[User, bool]], kind: str, created_by: User | None
) -> list[Invitation]:
    now = timezone.now()
    expires = now + timedelta(days=link_days())
    Enrollment.objects.bulk_create(
        [Enrollment(campaign=campaign, rater=user) for user, _ in users], ignore_conflicts=True
    )
    return Invitation.objects.bulk_create(
        [
            Invitation(
                campaign=campaign,
                user=user,
                kind=kind,
                new_account=new,
                created_by=created_by,
                created_at=now,
                expires_at=expires,
            )
            for user, new in users
        ]
    )


def invitations_csv_create(
    *, campaign: Campaign, text: str, created_by: User | None = None
) -> list[Invitation]:
    """Invite the CSV's raters (all or none): accounts made or reused, enrolled, one link each."""
    lines = invite_csv_parse(text)
    with transaction.atomic():
        existing = _existing_accounts(lines)
        fresh = [line for line in lines if line.email.lower() not in existing]
        made = _new_raters(
            list(
                zip(
                    _usernames_for([line.email for line in fresh]),
                    [line.email for line in fresh],
                    [line.name for line in fresh],
                    strict=True,
                )
            )
        )
        by_email = {user.email.lower(): user for user in made}
        users = [
            (existing[key], False) if key in existing else (by_email[key], True)
            for key in (line.email.lower() for line in lines)
        ]
        return _invite(
            campaign=campaign, users=users, kind=Invitation.Kind.EMAIL, created_by=created_by
        )


def invite_count_check(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INVITES:
        raise InviteError(
            [gettext("Give a number of accounts from 1 to %(n)s.") % {"n": MAX_INVITES}]
        )
    return count


def invitations_anonymous_create(
    *, campaign: Campaign, count: int, created_by: User | None = None
) -> list[Invitation]:
    """``count`` new rater accounts without names, enrolled, each with a link that signs in."""
    count = invite_count_check(count)
    with transaction.atomic():
        made = _new_raters(
            [(f"guest-{campaign.pk}-{secrets.token_hex(5)}", "", "") for _ in range(count)]
        )
        users = [(user, True) for user in made]
        return _invite(
            campaign=campaign, users=users, kind=Invitation.Kind.ANONYMOUS, created_by=created_by
        )


# --- the link -----------------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITE_SALT)


def _unusable(invitation: Invitation | None) -> InviteLinkError:
    if invitation is None:
        return InviteLinkError(gettext("This invitation does not exist (any more)."), 404)
    if invitation.used_at is not None:
        return InviteLinkError(
            gettext(
                "This invitation link was already used. Sign in with your account, or ask the "
                "campaign's admin for a new link."
            ),
            410,
        )
    return InviteLinkError(
        gettext("This invitation link has expired. Ask the campaign's admin for a new one."), 410
    )


def invitation_for_token(token: str) -> Invitation:
    """The open invitation a link names, or InviteLinkError (forged 400, used or expired 410)."""
    try:
        pk = signing.loads(token, salt=INVITE_SALT, max_age=timedelta(days=link_days()))
    except signing.SignatureExpired:
        raise _unusable(Invitation(expires_at=timezone.now())) from None
    except signing.BadSignature:
        raise InviteLinkError(
            gettext("This invitation link is not valid: it was changed or not made here."), 400
        ) from None
    invitation = (
        Invitation.objects.select_related("campaign", "user").filter(pk=pk).first()
        if isinstance(pk, int)
        else None
    )
    if invitation is None or not invitation.is_open:
        raise _unusable(invitation)
    return invitation


def invitation_redeem(*, token: str) -> Invitation:
    """Use a link, once: the row is claimed with a conditional UPDATE (of two uses at once, one
    wins), and the rater is enrolled (again, if they were unenrolled meanwhile)."""
    invitation = invitation_for_token(token)
    now = timezone.now()
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise _unusable(Invitation.objects.filter(pk=invitation.pk).first())
        Enrollment.objects.get_or_create(campaign=invitation.campaign, rater=invitation.user)
    invitation.used_at = now
    return invitation


def invitation_signs_in(invitation: Invitation) -> bool:
    """May this link sign its holder in? Only into an account it made that has no password yet."""
    user = invitation.user
    return (
        invitation.new_account
        and user.is_active
        and not user.has_usable_password()
        and user.role == User.Role.RATER
        and not (user.is_staff or user.is_superuser)
    )
