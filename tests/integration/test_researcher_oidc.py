"""OpenID Connect login against a stand-in provider on 127.0.0.1 (real HTTP, real RS256)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from fieldvault.config.settings import load_settings
from fieldvault.config.study import load_study
from fieldvault.domain import studies
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.services import Services, initialise, open_services
from fieldvault.web.app import create_app
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.researcher_serve import Clock, free_socket, serve_app
from tests.researcher_web import add_member

from .conftest import EXAMPLE, NOW


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    # The provider's tokens carry the app's clock, so exp is checked against it.
    yield FakeProvider(clock=NOW.timestamp)


Scenario = Callable[[aiohttp.ClientSession, Services], Awaitable[None]]


def _run(
    tmp_path: Path, research_url: str, vault_url: str, provider: FakeProvider, scenario: Scenario
) -> None:
    async def main() -> None:
        runner = web.AppRunner(provider.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        provider.issuer = f"http://{host}:{port}"
        sock = free_socket()
        settings = load_settings(
            environ={},
            data_dir=tmp_path / "data",
            database_url=research_url,
            vault_url=vault_url,
            public_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            oidc_discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
        )
        initialise(settings)
        services = open_services(settings)
        try:
            definition = load_study(EXAMPLE)
            with transaction(services.research) as session:
                studies.register_study(
                    session, definition, EXAMPLE.read_text(encoding="utf-8"), NOW
                )
            add_member(services, definition.id, Role.OWNER, NOW, email="owner@uni.example")
            app = create_app(services, clock=Clock(NOW))
            await serve_app(app, lambda http: scenario(http, services), sock=sock)
        finally:
            services.close()
            await runner.cleanup()

    asyncio.run(main())


async def _oidc_login(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
    async with http.get("/login") as page:
        assert 'href="/login/oidc"' in await page.text()
    async with http.get("/login/oidc") as landed:  # provider → callback, followed
        await landed.read()
        return landed


def test_a_verified_e_mail_from_the_provider_logs_its_account_in(
    tmp_path: Path, research_url: str, vault_url: str, provider: FakeProvider
) -> None:
    async def scenario(http: aiohttp.ClientSession, services: Services) -> None:
        async with http.get("/login/oidc", allow_redirects=False) as start:
            assert start.status == 302
            target = start.headers["Location"]
            assert "code_challenge_method=S256" in target and "nonce=" in target
            flow = start.cookies["fv_oidc"]
            assert flow["httponly"] and flow["samesite"] == "Lax"
        landed = await _oidc_login(http)
        assert landed.status == 200 and landed.url.path == "/login/oidc/callback"
        assert 'http-equiv="refresh"' in await landed.text()
        async with http.get("/account/second-factor", allow_redirects=False) as inside:
            assert inside.status == 200  # logged in
        assert provider.token_requests == 1

    _run(tmp_path, research_url, vault_url, provider, scenario)


@pytest.mark.parametrize(
    "tamper", ["signature", "audience", "issuer", "expired", "nonce", "no_account", "unverified"]
)
def test_an_answer_that_does_not_verify_or_names_no_account_is_refused(
    tmp_path: Path, research_url: str, vault_url: str, provider: FakeProvider, tamper: str
) -> None:
    if tamper == "no_account":
        provider.user = {"email": "stranger@uni.example", "email_verified": True}
    elif tamper == "unverified":
        provider.user = {"email": "owner@uni.example", "email_verified": False}
    else:
        provider.tamper = tamper

    async def scenario(http: aiohttp.ClientSession, services: Services) -> None:
        landed = await _oidc_login(http)
        text = await landed.text()
        assert landed.status == 403, text
        assert "Login refused" in text or "Innlogging avvist" in text
        assert "stranger@uni.example" not in text and "owner@uni.example" not in text
        assert "fv_session" not in {c.key for c in http.cookie_jar}
        async with http.get("/account/second-factor", allow_redirects=False) as outside:
            assert outside.status == 303

    _run(tmp_path, research_url, vault_url, provider, scenario)


def test_a_callback_without_this_browser_s_state_is_refused(
    tmp_path: Path, research_url: str, vault_url: str, provider: FakeProvider
) -> None:
    async def scenario(http: aiohttp.ClientSession, services: Services) -> None:
        async with http.get("/login/oidc", allow_redirects=False):
            pass
        async with http.get("/login/oidc/callback?code=x&state=forged") as forged:
            assert forged.status == 403
        assert provider.token_requests == 0

    _run(tmp_path, research_url, vault_url, provider, scenario)
