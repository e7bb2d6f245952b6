"""TLS on every hop: hub serve over HTTPS with client certificates mapped to partners; outbound verified."""

from __future__ import annotations

import json
import socket
import ssl
import time
import warnings
from pathlib import Path

import pytest
import requests

from hub.api.tls import certificate_fingerprint
from hub.auth import generate_token, hash_token
from hub.testing import PartnerSimulator, RunningHub, free_port, run_hub_cli, write_config
from hub.testing.certs import TestCA
from hub.testing.messages import housing_request


@pytest.fixture
def pki(tmp_path: Path) -> dict:
    ca = TestCA(tmp_path / "pki")
    return {
        "ca": ca,
        "server": ca.issue("hub", "hub.test", server=True),
        "trust": ca.issue("trust-a", "trust-a", server=False),
        "stranger": TestCA(tmp_path / "other", "Other CA").issue("stranger", "trust-a", server=False),
        "partner_server": ca.issue("council", "council.test", server=True),
    }


def test_hub_serves_https_and_a_client_certificate_identifies_a_partner(tmp_path: Path, pki: dict) -> None:
    trust_token = generate_token()
    config = write_config(tmp_path / "config", partners=[
        {"id": "trust-a", "kind": "nhs_trust", "token_sha256": hash_token(trust_token),
         "client_cert_sha256": certificate_fingerprint(pki["trust"].cert.read_bytes()), "receive": {"mode": "pull"}},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}},
    ])  # fmt: skip
    args = [
        "--tls-cert",
        str(pki["server"].cert),
        "--tls-key",
        str(pki["server"].key),
        "--client-ca",
        str(pki["ca"].path),
    ]
    with RunningHub(config, extra_args=args, tls_ca=pki["ca"].path) as hub:
        assert hub.url.startswith("https://")
        ca = str(pki["ca"].path)
        trust_cert = (str(pki["trust"].cert), str(pki["trust"].key))
        by_cert = requests.post(
            f"{hub.url}/v1/messages", json=housing_request(), verify=ca, cert=trust_cert, timeout=10
        )
        assert by_cert.status_code == 202, by_cert.text
        by_token = requests.post(f"{hub.url}/v1/messages", json=housing_request(), verify=ca, timeout=10,
                                 headers={"Authorization": f"Bearer {trust_token}"})  # fmt: skip
        assert by_token.status_code == 202
        nobody = requests.post(f"{hub.url}/v1/messages", json=housing_request(), verify=ca, timeout=10)
        assert nobody.status_code == 401
        # a certificate from another CA fails the handshake (with TLS 1.3 the client sees the server hang up)
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.post(f"{hub.url}/v1/messages", json=housing_request(), verify=ca, timeout=3,
                          cert=(str(pki["stranger"].cert), str(pki["stranger"].key)))  # fmt: skip
        with pytest.raises(requests.exceptions.SSLError):  # and the hub's certificate is checked by clients
            requests.get(f"{hub.url}/healthz", timeout=3)
        login = requests.get(f"{hub.url}/ui/login", verify=ca, timeout=10)  # the dashboard's cookie is Secure
        assert login.status_code == 200 and "; Secure" in login.headers["set-cookie"]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # a client stuck on TLS 1.1 is refused
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.load_verify_locations(ca)
        with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", hub.port), timeout=3) as raw:
            context.wrap_socket(raw, server_hostname="localhost")


def test_outbound_deliveries_verify_the_partners_certificate(tmp_path: Path, pki: dict) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki["partner_server"].cert, pki["partner_server"].key)
    port = free_port()
    with PartnerSimulator("council-luton", ssl_context=server_context) as trusted, \
            PartnerSimulator("council-beds", ssl_context=server_context) as untrusted:  # fmt: skip
        token = generate_token()
        config = write_config(tmp_path / "config", partners=[
            {"id": "trust-a", "kind": "nhs_trust", "token_sha256": hash_token(token), "receive": {"mode": "pull"}},
            {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {
                "mode": "push", "url": f"{trusted.url}/in", "options": {"ca_file": str(pki["ca"].path)}}},
            {"id": "council-beds", "kind": "council", "gss_code": "E06000056", "receive": {
                "mode": "push", "url": f"{untrusted.url}/in"}},
        ], settings={"retry": {"initial_seconds": 0.05, "max_attempts": 2, "max_delay_seconds": 0.1},
                     "delivery": {"poll_interval_seconds": 0.05}})  # fmt: skip
        with RunningHub(config, port=port) as hub:
            headers = {"Authorization": f"Bearer {token}"}
            requests.post(f"{hub.url}/v1/messages", json=housing_request(), headers=headers, timeout=10)
            bad = requests.post(f"{hub.url}/v1/messages", json=housing_request(target="E06000056"), headers=headers,
                                timeout=10).json()["id"]  # fmt: skip
            assert trusted.wait_for(lambda s: s.messages("HousingRequest"), timeout=15)
            deadline = time.monotonic() + 15
            view: dict = {}
            while time.monotonic() < deadline:
                view = requests.get(f"{hub.url}/v1/messages/{bad}", headers=headers, timeout=10).json()
                if view["status"] == "dead_lettered":
                    break
                time.sleep(0.1)
            assert view["status"] == "dead_lettered"
            assert view["deliveries"][0]["outcome"] == "dead_lettered"  # the sender sees a category
            shown = json.loads(run_hub_cli(config, "messages", "show", bad).stdout)  # the operator, the reason
            assert "certificate is not trusted" in shown["deliveries"][0]["last_error"]
            assert untrusted.messages() == []
