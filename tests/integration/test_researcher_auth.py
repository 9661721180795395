"""Researcher accounts on the real app: the CLI's link, passwords, throttling, sessions, TOTP.

Served on 127.0.0.1 with the production access logger; a test at the end greps every access
log line and page these flows produced for the e-mail, the session cookie and the link code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import ssl
from pathlib import Path

import aiohttp
import pyotp
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from fieldvault.cli import cli
from fieldvault.cli.commands import register as register_commands
from fieldvault.config.settings import Settings
from fieldvault.domain import accounts
from fieldvault.domain.permissions import Role
from fieldvault.storage.db import transaction
from fieldvault.storage.models import ResearcherAccount
from fieldvault.storage.services import Services
from fieldvault.web.app import create_app
from fieldvault.web.consent.security import Throttle
from fieldvault.web.researcher.login_guard import LOGIN_GUARD, LoginGuard
from tests.researcher_serve import Clock, Seen, serve, serve_app
from tests.researcher_web import PASSWORD, add_member, csrf_of

from .conftest import NOW

SECRET = re.compile(r'<code id="secret">([A-Z2-7 ]+)</code>')


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {
        "FIELDVAULT_DATA_DIR": str(settings.data_dir),
        "FIELDVAULT_DATABASE_URL": settings.research_url,
        "FIELDVAULT_VAULT_URL": settings.linkage_url,
    }
    register_commands(cli)
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def _link_code(output: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:8080/set-password/(\S+)", output)
    assert found, output
    return found.group(1)


async def _form(http: aiohttp.ClientSession, path: str, seen: Seen | None = None) -> str:
    async with http.get(path) as page:
        text = await page.text()
        assert page.status == 200, text
    if seen is not None:
        seen.remember(text)
    return csrf_of(text)


async def _log_in(http: aiohttp.ClientSession, email: str, password: str = PASSWORD) -> int:
    token = await _form(http, "/login")
    form = {"csrf": token, "email": email, "password": password}
    async with http.post("/login", data=form, allow_redirects=False) as answer:
        return answer.status


def test_researcher_add_prints_a_link_that_sets_a_password_once_and_logs_in(
    services: Services, settings: Settings, study_id: str
) -> None:
    status, out = _cli(settings, "researcher", "add", "Kari@Uni.example", "--study", study_id,
                       "--role", "owner")  # fmt: skip
    assert status == 0, out
    assert f"kari@uni.example is owner in {study_id}" in out
    code = _link_code(out)
    clock = Clock(NOW)
    seen = Seen()

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/set-password/{code}", allow_redirects=False) as moved:
            assert moved.status == 303 and moved.headers["Location"] == "/set-password"
            cookie = moved.cookies["fv_link"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert cookie["path"] == "/set-password"
        token = await _form(http, "/set-password", seen)
        for password, again, words in (
            ("a long enough one", "another long one", "not the same"),
            ("short", "short", "at least 12 characters"),
        ):
            form = {"csrf": token, "password": password, "confirm": again}
            async with http.post("/set-password", data=form) as refused:
                assert refused.status == 400
                assert words in seen.remember(await refused.text())
        form = {"csrf": token, "password": PASSWORD, "confirm": PASSWORD}
        async with http.post("/set-password", data=form, allow_redirects=False) as done:
            assert done.status == 303 and done.headers["Location"] == "/studies"
            assert done.cookies["fv_session"]["httponly"]
        async with http.get("/account/second-factor", allow_redirects=False) as inside:
            assert inside.status == 200
        # The link is used up.
        async with http.get(f"/set-password/{code}") as again_page:
            assert again_page.status == 400
            assert "has been used, or it has expired" in seen.remember(await again_page.text())

    serve(services, clock, scenario)
    # Adding the same person to the study again gives no new link: they have a password.
    status, out = _cli(settings, "researcher", "add", "kari@uni.example", "--study", study_id,
                       "--role", "supervisor")  # fmt: skip
    assert status == 0 and "set-password" not in out and "has a password already" in out


def test_researcher_add_refuses_in_words(
    settings: Settings, services: Services, study_id: str
) -> None:
    status, out = _cli(settings, "researcher", "add", "kari@uni.example", "--study", "no-such",
                       "--role", "owner")  # fmt: skip
    assert status != 0 and "no study 'no-such'" in out and "fieldvault study list" in out
    status, out = _cli(settings, "researcher", "add", "not-an-address", "--study", study_id,
                       "--role", "owner")  # fmt: skip
    assert status != 0 and "not an e-mail address" in out
    status, out = _cli(settings, "researcher", "add", "kari@uni.example", "--study", study_id,
                       "--role", "king")  # fmt: skip
    assert status != 0 and "owner" in out and "dpo" in out


def test_an_expired_link_says_so(services: Services, study_id: str) -> None:
    with transaction(services.research) as session:
        _, code = accounts.add_researcher(session, "late@uni.example", study_id, Role.DPO,
                                          actor="test", now=NOW)  # fmt: skip
    assert code is not None
    clock = Clock(NOW + accounts.LINK_VALIDITY + dt.timedelta(minutes=1))

    async def scenario(http: aiohttp.ClientSession) -> None:
        async with http.get(f"/set-password/{code}") as page:
            assert page.status == 400 and "it has expired" in await page.text()

    serve(services, clock, scenario)


def test_a_password_is_rehashed_when_the_parameters_change(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.RESEARCHER, NOW)
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with transaction(services.research) as session:
        account = session.scalars(
            select(ResearcherAccount).where(ResearcherAccount.email == email)
        ).one()
        account.password_hash = weaker.hash(PASSWORD)
    with transaction(services.research) as session:
        accounts.authenticate(session, email, PASSWORD, NOW)
    with transaction(services.research) as session:
        stored = session.scalars(
            select(ResearcherAccount.password_hash).where(ResearcherAccount.email == email)
        ).one()
    assert stored is not None and "m=8192" not in stored and "$argon2id$" in stored
    assert not PasswordHasher().check_needs_rehash(stored)
    assert weaker.check_needs_rehash(stored)  # today's parameters, not the old ones
    # And back: a hasher of other parameters rehashes at the next login too.
    with transaction(services.research) as session:
        accounts.authenticate(session, email, PASSWORD, NOW, hasher=weaker)
    with transaction(services.research) as session:
        again = session.scalars(
            select(ResearcherAccount.password_hash).where(ResearcherAccount.email == email)
        ).one()
    assert again is not None and "m=8192,t=1,p=1" in again


class Ticks:
    """A monotonic clock for the throttles."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_logins_are_throttled_per_account_and_per_address_but_a_known_browser_gets_in(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    other = add_member(services, study_id, Role.RESEARCHER, NOW)
    ticks = Ticks()
    app = create_app(services, clock=Clock(NOW))
    app[LOGIN_GUARD] = LoginGuard(
        b"k" * 32,
        per_account=Throttle(limit=3, window=900, clock=ticks),
        per_device=Throttle(limit=10, window=900, clock=ticks),
        per_address=Throttle(limit=8, window=900, clock=ticks),
    )

    async def scenario(http: aiohttp.ClientSession) -> None:
        # A browser that logged in before keeps its device cookie (path /login).
        assert await _log_in(http, email) == 303
        async with http.post("/logout", data={"csrf": await _form(http, "/account/second-factor")}):
            pass
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({"fv_lang": "en"}, http._base_url)
        async with aiohttp.ClientSession(http._base_url, cookie_jar=jar) as stranger:
            for _ in range(3):
                assert await _log_in(stranger, email, "wrong password!!") == 401
            assert await _log_in(stranger, email) == 429  # the right password, but locked
            token = await _form(stranger, "/login")
            form = {"csrf": token, "email": email, "password": PASSWORD}
            async with stranger.post("/login", data=form) as page:
                assert page.status == 429 and "Wait 15 minutes" in await page.text()
            # The owner's own browser is not locked out by the stranger's guesses.
            assert await _log_in(http, email) == 303
            # Per address: the stranger's address has failed 3 times; 5 more on another account.
            for _ in range(5):
                await _log_in(stranger, other, "wrong password!!")
            assert await _log_in(stranger, other) == 429
            ticks.now += 901  # the window passes: the lock ends by itself
            assert await _log_in(stranger, email) == 303

    asyncio.run(serve_app(app, scenario))


def test_a_session_expires_after_half_an_hour_without_a_request(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.SUPERVISOR, NOW)
    clock = Clock(NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        assert await _log_in(http, email) == 303
        for _ in range(3):  # used every 20 minutes it stays alive
            clock.advance(minutes=20)
            async with http.get("/account/second-factor", allow_redirects=False) as page:
                assert page.status == 200
        clock.advance(minutes=31)
        async with http.get("/account/second-factor", allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"] == "/login"
        async with http.post("/studies/x/security", allow_redirects=False) as post:
            assert post.status == 401

    serve(services, clock, scenario)


def _self_signed(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def test_over_tls_the_session_cookie_is_secure(
    services: Services, study_id: str, tmp_path: Path
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    server_ssl, client_ssl = _self_signed(tmp_path)

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _form(http, "/login")
        form = {"csrf": token, "email": email, "password": PASSWORD}
        async with http.post("/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 303
            cookie = answer.cookies["fv_session"]
            assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
            assert answer.cookies["fv_device"]["secure"]

    app = create_app(services, clock=Clock(NOW))
    asyncio.run(serve_app(app, scenario, ssl_context=server_ssl, client_ssl=client_ssl))


def test_totp_enrolment_then_every_login_asks_for_a_fresh_code(
    services: Services, settings: Settings, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    clock = Clock(NOW)
    found: dict[str, str] = {}

    async def scenario(http: aiohttp.ClientSession) -> None:
        assert await _log_in(http, email) == 303
        async with http.get("/account/second-factor") as page:
            html = await page.text()
        match = SECRET.search(html)
        assert match, html
        secret = found["secret"] = match.group(1).replace(" ", "")
        csrf = csrf_of(html)
        async with http.get("/account/second-factor/qr.png") as qr:
            assert qr.status == 200 and qr.content_type == "image/png"
            assert (await qr.read()).startswith(b"\x89PNG")
        totp = pyotp.TOTP(secret)
        wrong = f"{(int(totp.at(NOW)) + 1) % 1_000_000:06d}"
        async with http.post("/account/second-factor", data={"csrf": csrf, "code": wrong}) as bad:
            assert bad.status == 400 and secret[:4] in await bad.text()  # the same secret
        form = {"csrf": csrf, "code": totp.at(NOW)}
        async with http.post("/account/second-factor", data=form) as good:
            assert "A second factor is set up" in await good.text()
        async with http.post("/logout", data={"csrf": csrf}):
            pass
        # Next login: the password alone is not enough.
        assert await _log_in(http, email) == 303
        async with http.get("/account/second-factor", allow_redirects=False) as outside:
            assert outside.status == 303 and outside.headers["Location"] == "/login"
        token = await _form(http, "/login/code")
        # The code used to enrol is refused (no replays); the next one opens the session.
        async with http.post("/login/code", data={"csrf": token, "code": totp.at(NOW)}) as again:
            assert again.status == 401
        clock.advance(seconds=30)
        form = {"csrf": token, "code": totp.at(clock.now)}
        async with http.post("/login/code", data=form, allow_redirects=False) as done:
            assert done.status == 303 and done.headers["Location"] == "/studies"
            assert "fv_session" in done.cookies
        async with http.get("/account/second-factor", allow_redirects=False) as inside:
            assert inside.status == 200

    serve(services, clock, scenario)
    with transaction(services.research) as session:
        account = session.scalars(
            select(ResearcherAccount).where(ResearcherAccount.email == email)
        ).one()
        assert account.totp_sealed is not None and account.totp_enrolled_at is not None
        assert found["secret"].encode() not in account.totp_sealed  # sealed, not plain
    # A lost phone: the operator resets it; the password alone logs in again.
    status, out = _cli(settings, "researcher", "reset-second-factor", email)
    assert status == 0, out
    status, out = _cli(settings, "researcher", "reset-second-factor", "nobody@uni.example")
    assert status != 0 and "no researcher account" in out and "researcher add" in out

    async def after_reset(http: aiohttp.ClientSession) -> None:
        token = await _form(http, "/login")
        form = {"csrf": token, "email": email, "password": PASSWORD}
        async with http.post("/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/studies"

    serve(services, clock, after_reset)


def test_an_owner_can_require_a_second_factor_and_members_are_sent_to_enrol(
    services: Services, study_id: str
) -> None:
    email = add_member(services, study_id, Role.OWNER, NOW)
    member = add_member(services, study_id, Role.DPO, NOW)

    async def scenario(http: aiohttp.ClientSession) -> None:
        assert await _log_in(http, email) == 303
        csrf = await _form(http, f"/studies/{study_id}/security")
        form = {"csrf": csrf, "require": "yes"}
        async with http.post(f"/studies/{study_id}/security", data=form, allow_redirects=False):
            pass
        async with http.get(f"/studies/{study_id}/security", allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"] == "/account/second-factor"
        async with http.post(f"/studies/{study_id}/security", data=form) as post:
            assert post.status == 403
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(http._base_url, cookie_jar=jar) as other:
            assert await _log_in(other, member) == 303
            async with other.get(f"/studies/{study_id}/security", allow_redirects=False) as page:
                assert page.headers["Location"] == "/account/second-factor"  # before the 403
            async with other.get("/account/second-factor") as enrol:
                assert enrol.status == 200 and SECRET.search(await enrol.text())

    serve(services, Clock(NOW), scenario)


def test_pages_send_strict_headers_and_no_secret_reaches_a_log_or_a_page(
    services: Services, study_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with transaction(services.research) as session:
        _, code = accounts.add_researcher(session, "Ola.Nordmann@uni.example", study_id,
                                          Role.RESEARCHER, actor="test", now=NOW)  # fmt: skip
    assert code is not None
    seen = Seen()
    cookies: list[str] = []

    async def scenario(http: aiohttp.ClientSession) -> None:
        token = await _form(http, f"/set-password/{code}", seen)
        form = {"csrf": token, "password": PASSWORD, "confirm": PASSWORD}
        async with http.post("/set-password", data=form, allow_redirects=False) as done:
            cookies.append(done.cookies["fv_session"].value)
        for path in ("/login", "/set-password", "/account/second-factor",
                     f"/studies/{study_id}/security", "/studies/nope/security", "/login/code",
                     "/login/oidc"):  # fmt: skip
            async with http.get(path, allow_redirects=False) as page:
                seen.remember(await page.text())
                assert page.headers["X-Frame-Options"] == "DENY"
                assert page.headers["Referrer-Policy"] == "no-referrer"
                policy = page.headers["Content-Security-Policy"]
                assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
                assert "script-src 'self'" in policy
        await _log_in(http, "ola.nordmann@uni.example", "a wrong password")
        async with http.post("/logout", data={"csrf": "forged"}) as forged:
            seen.remember(await forged.text())

    serve(services, Clock(NOW), scenario)
    assert cookies and len(seen.bodies) > 5
    log_lines = caplog.text
    assert "r.set_password.link" in log_lines  # the access log ran
    for secret in (code, cookies[0], "ola.nordmann@uni.example", "Ola.Nordmann"):
        assert secret not in log_lines
        for body in seen.bodies:
            assert secret not in body
    for body in seen.bodies:
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), "inline script"
        assert not re.search(r"\son[a-z]+\s*=", body), "inline event handler"
