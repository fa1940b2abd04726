"""project/settings.py as deployed: where the secret key comes from, `check --deploy` clean with the
documented production variables, password rules, no test or benchmark shortcut in production."""

from __future__ import annotations

import secrets
import stat

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import Resolver404, resolve

from tests.shell import clean_env, run

PRINT_KEY = '.venv/bin/python manage.py shell --no-imports -c "from django.conf import settings; print(settings.SECRET_KEY)"'

# What README and .env.example give a production deployment behind a TLS-terminating proxy.
PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "annotate.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://annotate.example.org",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_COOKIES": "1",
}


def test_the_embedded_default_keeps_one_generated_key_in_data_dir_with_debug_off(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path))
    first = run(PRINT_KEY, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    keyfile = tmp_path / "secret_key"
    assert first.stdout.strip() == keyfile.read_text().strip()
    assert len(keyfile.read_text().strip()) >= 50
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    again = run(PRINT_KEY, env=env)
    assert again.stdout == first.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret_key")] == []


def test_a_deployment_with_database_url_must_give_its_key(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    out = run(PRINT_KEY, env=env)
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr
    assert not (tmp_path / "secret_key").exists()

    (tmp_path / "key").write_text("from-a-file-" + "k" * 60 + "\n")
    out = run(PRINT_KEY, env={**env, "SECRET_KEY_FILE": str(tmp_path / "key")})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "from-a-file-" + "k" * 60


def test_check_deploy_is_clean_with_the_production_variables(tmp_path):
    env = clean_env(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SECRET_KEY=secrets.token_urlsafe(50),
        **PRODUCTION,
    )
    out = run(".venv/bin/python manage.py check --deploy --fail-level WARNING", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_check_deploy_names_what_is_missing_without_them(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path), SECRET_KEY=secrets.token_urlsafe(50), DEBUG="0")
    out = run(".venv/bin/python manage.py check --deploy --fail-level WARNING", env=env)
    assert out.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in out.stderr


def test_production_settings_hash_with_pbkdf2_and_offer_no_md5(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path), FAST_PASSWORD_HASHER="1")
    out = run(
        ".venv/bin/python manage.py shell --no-imports -c "
        '"from django.conf import settings; print(settings.PASSWORD_HASHERS)"',
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PBKDF2PasswordHasher" in out.stdout.split(",")[0]
    assert "MD5" not in out.stdout


@pytest.mark.parametrize("password", ["password", "12345678", "short", "bob-password"])
def test_weak_passwords_are_refused(password, db):
    from tests.factories import UserFactory

    user = UserFactory.build(username="bob-password")
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


def test_a_good_password_passes(db):
    validate_password("correct horse battery staple")


def test_the_benchmark_floor_is_absent(admin_client):
    with pytest.raises(Resolver404):
        resolve("/bench/noop/")
    assert admin_client.get("/bench/noop/").status_code == 404


def test_the_benchmark_settings_route_the_floor(tmp_path):
    env = clean_env(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="bench.settings")
    out = run(
        '.venv/bin/python -c "import django; django.setup(); from django.urls import resolve; '
        "print(resolve('/bench/noop/').url_name)\"",
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "bench-noop"
