"""Who may read a web process's /metrics, and what /healthz and /readyz answer (embedded)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from gameserver.settings import GAMESERVER

PRODUCTION = {**GAMESERVER, "METRICS_TOKEN": "s3cret-token", "METRICS_ALLOW_IPS": []}


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


@override_settings(DEBUG=True)  # the test runner turns DEBUG off
def test_metrics_are_open_in_debug_mode_and_parse():
    response = Client().get("/metrics")
    assert response.status_code == 200
    names = families(response.content.decode())
    assert {"gameserver_connections_open", "gameserver_frames_sent", "gameserver_matches"} <= set(
        names
    )


@override_settings(DEBUG=False, GAMESERVER=PRODUCTION)
def test_metrics_in_production_need_the_token():
    client = Client()
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert "GAMESERVER_METRICS_TOKEN" in refused.json()["error"]["message"]
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert allowed.status_code == 200
    assert "gameserver_http_requests" in families(allowed.content.decode())


@override_settings(DEBUG=False, GAMESERVER={**PRODUCTION, "METRICS_TOKEN": ""})
def test_metrics_in_production_without_a_token_are_refused_even_with_an_empty_bearer():
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@override_settings(DEBUG=False, GAMESERVER={**PRODUCTION, "METRICS_ALLOW_IPS": ["10.0.0.0/8"]})
def test_metrics_in_production_from_an_allowed_address():
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics").status_code == 403


@override_settings(DEBUG=True)
def test_responses_are_counted_by_status():
    client = Client()
    client.get("/api/no-such-thing")
    counted = families(client.get("/metrics").content.decode())["gameserver_http_requests"]
    statuses = {s.labels["status"] for s in counted.samples if s.name.endswith("_total")}
    assert "404" in statuses


def test_healthz_answers():
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}


@pytest.mark.django_db
def test_readyz_in_embedded_mode_asks_the_database_only():
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["failing"] == [] and set(body["checks"]) == {"database"}
