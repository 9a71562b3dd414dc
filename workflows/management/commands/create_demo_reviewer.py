"""``manage.py create_demo_reviewer``: create (or reset) the demo reviewer account and print it."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo reviewer account (staff, so it can open the admin) and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("FLOWSITE_DEMO_USER", "reviewer"))
        parser.add_argument("--password", default=os.environ.get("FLOWSITE_DEMO_PASSWORD", "flowsite-demo"))

    def handle(self, *args, username: str, password: str, **options):
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(
            f"Demo reviewer {'created' if created else 'reset'}: "
            f"log in at http://{os.environ.get('FLOWSITE_ADDR', '127.0.0.1:8000')}/ "
            f"as {username} / {password}"
        ))
