"""Migration 0006: generators and judges that named a key variable now name an endpoint."""

from __future__ import annotations

import pytest

from tests.models.migrations import migrate_to, schema_at

BEFORE = [("annotate", "0005_input_rules")]
AFTER = [("annotate", "0006_generator_endpoint")]


@pytest.mark.slow
def test_it_maps_key_variables_to_endpoints_and_drops_redirected_base_urls(transactional_db):
    with schema_at(BEFORE) as old:
        campaign = old.get_model("annotate", "Campaign").objects.create(title="c", slug="c")
        generator = old.get_model("annotate", "Generator")
        rows = {
            name: generator.objects.create(campaign=campaign, name=name, model="m", **fields).id
            for name, fields in {
                "claude": {"provider": "anthropic"},
                "claude-env": {"provider": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
                "redirected": {
                    "provider": "anthropic",
                    "api_key_env": "ANTHROPIC_API_KEY",
                    "base_url": "http://capture.example/",
                },
                "team": {"provider": "anthropic", "api_key_env": "TEAM_KEY"},
                "vllm": {
                    "provider": "openai_compatible",
                    "api_key_env": "VLLM_KEY",
                    "base_url": "http://gpu1:8000/v1",
                },
                "ollama": {"provider": "openai_compatible", "base_url": "http://h:11434/v1"},
                "demo": {"provider": "demo", "base_url": "http://ignored/"},
            }.items()
        }
        old.get_model("annotate", "JudgeConfig").objects.create(
            campaign=campaign, provider="anthropic", model="m", api_key_env="SECRET_KEY"
        )
        new = migrate_to(AFTER)
        after = {
            g.name: (g.endpoint, g.base_url)
            for g in new.get_model("annotate", "Generator").objects.filter(id__in=rows.values())
        }
        assert after == {
            "claude": ("anthropic", ""),
            "claude-env": ("anthropic", ""),
            "redirected": ("anthropic", ""),  # the key now goes only where the operator says
            "team": ("TEAM_KEY", ""),  # refused until the operator defines endpoint TEAM_KEY
            "vllm": ("VLLM_KEY", ""),
            "ollama": ("", "http://h:11434/v1"),  # no key: as it was
            "demo": ("", ""),
        }
        judge = new.get_model("annotate", "JudgeConfig").objects.get(campaign_id=campaign.id)
        assert (judge.endpoint, judge.base_url) == ("SECRET_KEY", "")  # a name, never a variable
