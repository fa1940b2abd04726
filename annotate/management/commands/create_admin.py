"""Create an admin: the admin role in the app's pages, and a superuser in the back office.

    python manage.py create_admin <username>        # asks for the password twice

The password must pass the project's password validators (AUTH_PASSWORD_VALIDATORS). With no
terminal (a script), the password is read from the first line of standard input.
"""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotate.models import User
from annotate.services.campaigns import CampaignError, rater_create


class Command(BaseCommand):
    help = "Create an admin (app admin role + back-office superuser); asks for the password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args, **options) -> None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("The two passwords differ.")
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            with transaction.atomic():
                user = rater_create(
                    username=options["username"], password=password, role=User.Role.ADMIN
                )
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
        except CampaignError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created the admin {user.username!r}; log in at /login/.")
        )
