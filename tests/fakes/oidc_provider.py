"""A small OpenID Connect provider on 127.0.0.1 for the tests: real HTTP, real RS256 signatures.

It serves discovery, ``/authorize`` (which logs in ``user`` at once and redirects back with a
code), ``/token`` (checking the client's secret, the redirect URI and the PKCE S256 verifier)
and ``/jwks``. ``tamper`` makes it issue a bad ID token on purpose: ``"signature"`` (signed by
a key it does not publish), ``"audience"``, ``"issuer"``, ``"expired"`` or ``"nonce"``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from yarl import URL

CLIENT_ID = "fieldvault-test"
CLIENT_SECRET = "s3cret-of-the-test-client"


@dataclass
class Grant:
    """What an authorization code was issued for."""

    redirect_uri: str
    challenge: str
    nonce: str


@dataclass
class FakeProvider:
    """The provider's state; ``issuer`` is set once it is served."""

    user: dict[str, Any] = field(
        default_factory=lambda: {"email": "owner@uni.example", "email_verified": True}
    )
    tamper: str | None = None
    clock: Callable[[], float] = time.time
    issuer: str = ""
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: int = 0

    def app(self) -> web.Application:
        """The provider's aiohttp app."""
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/jwks", self.jwks)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        """The discovery document."""
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        """Log the user in at once and send the browser back with a code."""
        q = request.query
        if (
            q.get("response_type") != "code"
            or q.get("client_id") != CLIENT_ID
            or q.get("code_challenge_method") != "S256"
            or "openid" not in q.get("scope", "").split()
            or not q.get("state")
            or not q.get("nonce")
        ):
            return web.Response(status=400, text="bad authorization request")
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(q["redirect_uri"], q["code_challenge"], q["nonce"])
        back = URL(q["redirect_uri"]).update_query(code=code, state=q["state"])
        raise web.HTTPFound(str(back))

    async def token(self, request: web.Request) -> web.Response:
        """Redeem a code: client secret, redirect URI and PKCE verifier must all be right."""
        self.token_requests += 1
        form = await request.post()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.grants.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
        ).rstrip("=")
        if (
            grant is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
             "id_token": self.id_token(grant.nonce)}
        )  # fmt: skip

    def id_token(self, nonce: str) -> str:
        """An ID token for ``user``, spoiled as ``tamper`` says."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.user,
        }
        if self.tamper == "audience":
            claims["aud"] = "another-client"
        elif self.tamper == "issuer":
            claims["iss"] = "https://evil.example"
        elif self.tamper == "expired":
            claims["exp"] = now - 3600
        elif self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce"
        key = self.key
        if self.tamper == "signature":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})

    async def jwks(self, request: web.Request) -> web.Response:
        """The public signing key."""
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": [jwk]})
