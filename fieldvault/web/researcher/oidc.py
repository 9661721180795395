"""OpenID Connect login (e.g. Feide): authorization code with PKCE (S256), state and nonce.

Configured by ``oidc_discovery_url``, ``oidc_client_id`` and ``oidc_client_secret``. The ID
token's signature is checked against the provider's JWKS (fetched from its discovery document,
refetched once when a key id is new), and so are its issuer, audience (and ``azp``), expiry
(against the app's clock) and nonce. Its ``email`` claim, when the provider says it is
verified, names an existing account; nobody is created and no role is given here.

The flow's state, nonce and PKCE verifier wait in the ``fv_oidc`` cookie (HttpOnly, scoped to
``/login/oidc``, ten minutes). It is SameSite=Lax because it must come back with the
provider's redirect, a cross-site navigation. The session cookie set at the end is Strict;
the callback answers with a page that moves on by itself (a same-site navigation) rather than
a redirect, because RFC 6265bis counts a redirect chain that began cross-site as cross-site,
and a browser that follows it would drop the new cookie on the next request. (Chromium 156
still sends it after a 303 too: the browser test passes either way.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from aiohttp import web
from yarl import URL

from fieldvault.domain import accounts
from fieldvault.domain.accounts import LoginFailed
from fieldvault.storage.db import transaction
from fieldvault.web.keys import CLOCK, SERVICES
from fieldvault.web.researcher.access import page
from fieldvault.web.researcher.login_guard import logged_in
from fieldvault.web.researcher.pages import blocking, render

log = logging.getLogger("fieldvault.web.researcher")

FLOW_COOKIE = "fv_oidc"
FLOW_SECONDS = 600
CALLBACK = "/login/oidc/callback"
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})
LEEWAY = 60  # seconds of clock skew accepted on exp and iat
CACHE_SECONDS = 3600.0
TIMEOUT = aiohttp.ClientTimeout(total=10)


class OidcRefused(Exception):
    """The provider's answer cannot be trusted or names no account (why, for the log only)."""


@dataclass(frozen=True)
class Provider:
    """What the discovery document says."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: frozenset[str]


class OidcClient:
    """A relying party of one provider: discovery, the token request, ID token checks."""

    def __init__(
        self, discovery_url: str, client_id: str, client_secret: str, redirect_uri: str
    ) -> None:
        self.discovery_url, self.client_id = discovery_url, client_id
        self._secret, self.redirect_uri = client_secret, redirect_uri
        self._http: aiohttp.ClientSession | None = None
        self._provider: tuple[float, Provider] | None = None
        self._keys: jwt.PyJWKSet | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._http

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.close()

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        if response.status != 200:
            raise OidcRefused(f"the provider answered {response.status}")
        body = json.loads(await response.read())
        if not isinstance(body, dict):
            raise OidcRefused("the provider's answer is not a JSON object")
        return body

    async def provider(self) -> Provider:
        """The provider's endpoints (the discovery document, cached an hour)."""
        if self._provider is not None and time.monotonic() - self._provider[0] < CACHE_SECONDS:
            return self._provider[1]
        async with self._client().get(self.discovery_url) as response:
            doc = await self._json(response)
        try:
            found = Provider(
                issuer=str(doc["issuer"]),
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                algorithms=frozenset(doc.get("id_token_signing_alg_values_supported", ["RS256"]))
                & ALGORITHMS,
            )
        except KeyError as missing:
            raise OidcRefused(f"the discovery document has no {missing}") from None
        self._provider = (time.monotonic(), found)
        return found

    async def authorization_url(self, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser: the provider's login, for an authorization code."""
        provider = await self.provider()
        return str(
            URL(provider.authorization_endpoint).update_query(
                response_type="code",
                client_id=self.client_id,
                redirect_uri=self.redirect_uri,
                scope="openid email",
                state=state,
                nonce=nonce,
                code_challenge=pkce_challenge(verifier),
                code_challenge_method="S256",
            )
        )

    async def _key(self, kid: str, uri: str) -> jwt.PyJWK:
        for refresh in (False, True):
            if self._keys is None or refresh:
                async with self._client().get(uri) as response:
                    self._keys = jwt.PyJWKSet.from_dict(await self._json(response))
            for key in self._keys.keys:
                if key.key_id == kid:
                    return key
        raise OidcRefused("the ID token is signed with a key the provider does not publish")

    async def verified_claims(self, code: str, verifier: str, nonce: str, now: float) -> dict:
        """Redeem the code (with the PKCE verifier) and check the ID token; its claims."""
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        # client_secret_basic: both parts form-encoded first (RFC 6749 section 2.3.1).
        pair = f"{quote(self.client_id, safe='')}:{quote(self._secret, safe='')}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
        token_url = provider.token_endpoint
        async with self._client().post(token_url, data=form, headers=headers) as response:
            answer = await self._json(response)
        token = answer.get("id_token")
        if not isinstance(token, str):
            raise OidcRefused("the token answer has no ID token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcRefused("the ID token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in provider.algorithms:
            raise OidcRefused(f"the ID token's algorithm {str(algorithm)[:10]!r} is not allowed")
        key = await self._key(str(header.get("kid", "")), provider.jwks_uri)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.client_id,
                issuer=provider.issuer,
                # exp and iat are checked below against the app's clock, not the host's.
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False,
                         "verify_iat": False},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise OidcRefused(f"the ID token does not verify: {type(exc).__name__}") from None
        check_claims(claims, self.client_id, nonce, now)
        return claims


def check_claims(claims: dict[str, Any], client_id: str, nonce: str, now: float) -> None:
    """The checks of an ID token's claims that its signature check leaves: time, azp, nonce."""
    if not float(claims["exp"]) > now - LEEWAY:
        raise OidcRefused("the ID token has expired")
    if float(claims["iat"]) > now + LEEWAY:
        raise OidcRefused("the ID token was issued in the future")
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise OidcRefused("the ID token was issued to another party")
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise OidcRefused("the ID token's nonce is not this login's")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


OIDC = web.AppKey("researcher_oidc", OidcClient)


def configured(app: web.Application) -> bool:
    """Whether OpenID Connect login is set up."""
    return OIDC in app


def setup(app: web.Application) -> None:
    """The OIDC routes; a client when the settings name a provider."""
    settings = app[SERVICES].settings
    if settings.oidc_discovery_url and settings.oidc_client_id and settings.oidc_client_secret:
        redirect = settings.public_base_url.rstrip("/") + CALLBACK
        app[OIDC] = OidcClient(
            settings.oidc_discovery_url,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            redirect,
        )
        app.cleanup_ctx.append(_close)
    page(app, "GET", "/login/oidc", start, name="r.oidc", action=None, login=False)
    page(app, "GET", CALLBACK, callback, name="r.oidc.callback", action=None, login=False)


async def _close(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[OIDC].close()


def _refused(request: web.Request, reason: str, status: int = 403) -> web.Response:
    response = render(request, "researcher/oidc_refused.html", {"reason": reason}, status=status)
    response.del_cookie(FLOW_COOKIE, path="/login/oidc")
    return response


async def start(request: web.Request) -> web.StreamResponse:
    """Send the browser to the provider with a new state, nonce and PKCE challenge."""
    if not configured(request.app):
        raise web.HTTPNotFound()
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    try:
        target = await request.app[OIDC].authorization_url(state, nonce, verifier)
    except (aiohttp.ClientError, TimeoutError, ValueError, OidcRefused) as exc:
        log.warning("OIDC discovery failed: %s", type(exc).__name__)
        return _refused(request, "unreachable", status=502)
    response = web.HTTPFound(target)
    response.set_cookie(
        FLOW_COOKIE, f"{state}.{nonce}.{verifier}", path="/login/oidc", max_age=FLOW_SECONDS,
        httponly=True, samesite="Lax", secure=request.secure,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    raise response


async def callback(request: web.Request) -> web.StreamResponse:
    """The provider's redirect back: check everything, then log the account in."""
    if not configured(request.app):
        raise web.HTTPNotFound()
    state, _, rest = request.cookies.get(FLOW_COOKIE, "").partition(".")
    nonce, _, verifier = rest.partition(".")
    given_state, code = request.query.get("state", ""), request.query.get("code", "")
    if not (state and nonce and verifier and code) or not hmac.compare_digest(
        state.encode(), given_state.encode()
    ):
        return _refused(request, "state")
    now = request.app[CLOCK]()
    try:
        claims = await request.app[OIDC].verified_claims(code, verifier, nonce, now.timestamp())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("OIDC token request failed: %s", type(exc).__name__)
        return _refused(request, "unreachable", status=502)
    except OidcRefused as exc:
        log.warning("OIDC login refused: %s", exc)  # the reason names no one
        return _refused(request, "token")
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return _refused(request, "email")
    services = request.app[SERVICES]

    def run() -> tuple[str, bool, str]:
        with transaction(services.research) as session:
            account = accounts.account_for_verified_email(session, email)
            token, waiting = accounts.begin_login(session, account, now)
            return token, waiting, account.email

    try:
        token, waiting, address = await blocking(request, run)
    except LoginFailed:
        return _refused(request, "no_account")
    target = "/login/code" if waiting else "/studies"
    landing = render(request, "researcher/oidc_landing.html", {"target": target})
    # logged_in sets its cookies on any response; the landing page moves on by itself.
    response = logged_in(request, landing, token, waiting, address)
    response.del_cookie(FLOW_COOKIE, path="/login/oidc")
    return response
