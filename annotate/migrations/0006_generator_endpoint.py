"""Generators and judges pick an operator endpoint instead of naming a key variable.

Rows that used the operator's Anthropic key (no variable, or ANTHROPIC_API_KEY) get the implicit
endpoint ``anthropic``; a base URL they carried is dropped, since the key now goes only where the
operator sends it (Anthropic's API, or ANTHROPIC_BASE_URL). Rows that named another variable get an
endpoint of that same name and no base URL: until the operator defines it in PROVIDER_ENDPOINTS (with
the base URL it may be sent to), the worker refuses them with a message saying so, and sends nothing.
OpenAI-compatible rows without a key keep their typed base URL.
"""

from django.db import migrations, models

import annotate.validation


def _to_endpoints(apps, schema_editor):
    for name in ("Generator", "JudgeConfig"):
        model = apps.get_model("annotate", name)
        for row in model.objects.filter(provider__in=("anthropic", "openai_compatible")):
            key = row.api_key_env
            if row.provider == "anthropic":
                row.endpoint = "anthropic" if key in ("", "ANTHROPIC_API_KEY") else key
                row.base_url = ""
            elif key:
                row.endpoint, row.base_url = key, ""
            else:
                row.endpoint = ""
            row.save(update_fields=["endpoint", "base_url"])
        model.objects.exclude(provider__in=("anthropic", "openai_compatible")).update(
            endpoint="", base_url=""
        )


class Migration(migrations.Migration):
    dependencies = [("annotate", "0005_input_rules")]

    operations = [
        migrations.AddField(
            model_name="generator",
            name="endpoint",
            field=models.CharField(
                blank=True, max_length=100, validators=[annotate.validation.validate_one_line]
            ),
        ),
        migrations.AddField(
            model_name="judgeconfig",
            name="endpoint",
            field=models.CharField(
                blank=True, max_length=100, validators=[annotate.validation.validate_one_line]
            ),
        ),
        migrations.RunPython(_to_endpoints, migrations.RunPython.noop),
        migrations.RemoveField(model_name="generator", name="api_key_env"),
        migrations.RemoveField(model_name="judgeconfig", name="api_key_env"),
    ]
