"""OpenID Connect for console sign-in (the seed's Okta): authorization code flow with
PKCE (S256), `state` and `nonce`, through Authlib's OAuth 2 client; the ID token is
verified with joserfc (Authlib's JOSE library) against the issuer's JWKS.

The issuer's discovery document and JWKS are fetched once per process and kept for
`METADATA_SECONDS` (the JWKS again at once when a token names an unknown key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from licensor.config import Settings
from licensor.kit.errors import LicensorError, NotFound, Unauthorized

SCOPE = "openid email profile"
METADATA_SECONDS = 3600.0
TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 60


def sso_failed(message: str) -> Unauthorized:
    return Unauthorized(f"single sign-on failed: {message}", code="SSO_FAILED")


def not_configured() -> NotFound:
    return NotFound("single sign-on is not configured on this server", code="SSO_NOT_CONFIGURED")


@dataclass(frozen=True)
class Pending:
    """What the browser carries (encrypted) from the redirect to the callback."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str
    business_id: str


@dataclass(frozen=True)
class Identity:
    """A verified ID token's subject."""

    subject: str
    email: str
    email_verified: bool
    name: str


class OidcClient:
    """One per process (`app.state`), for the configured issuer."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_client_id:
            raise not_configured()
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_SECONDS,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with self._client("") as client:
            try:
                response = await client.request("GET", url, withhold_token=True)
                response.raise_for_status()
                body: dict[str, Any] = response.json()
            except Exception as exc:
                raise sso_failed(f"the identity provider did not answer ({url})") from exc
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched > METADATA_SECONDS:
            found = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise sso_failed("the discovery document names another issuer")
            self._metadata, self._keys, self._fetched = found, None, time.monotonic()
        return self._metadata

    async def _key_set(self, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            jwks = await self._get_json(str((await self.metadata())["jwks_uri"]))
            self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        return self._keys

    async def begin(
        self, redirect_uri: str, next_path: str, business_id: str
    ) -> tuple[str, Pending]:
        """The identity provider's authorization URL, and what the callback must check."""
        endpoint = str((await self.metadata())["authorization_endpoint"])
        pending = Pending(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            redirect_uri=redirect_uri,
            next=next_path,
            business_id=business_id,
        )
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint,
                state=pending.state,
                nonce=pending.nonce,
                code_verifier=pending.code_verifier,
            )
        return str(url), pending

    async def finish(self, pending: Pending, code: str) -> Identity:
        """Exchange the code (with the PKCE verifier) and verify the ID token."""
        endpoint = str((await self.metadata())["token_endpoint"])
        async with self._client(pending.redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    endpoint, code=code, code_verifier=pending.code_verifier
                )
            except Exception as exc:
                raise sso_failed("the identity provider refused the authorization code") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise sso_failed("no ID token in the identity provider's answer")
        return await self.verify(id_token, pending.nonce)

    async def verify(self, id_token: str, nonce: str) -> Identity:
        algorithms = (await self.metadata()).get("id_token_signing_alg_values_supported")
        algs = [a for a in (algorithms or ["RS256"]) if a != "none"]
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(False), algorithms=algs)
            except JoseError:  # perhaps a rotated key: fetch the JWKS again, once
                decoded = jwt.decode(id_token, await self._key_set(True), algorithms=algs)
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise sso_failed(f"the ID token is not valid ({exc})") from exc
        claims = decoded.claims
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise sso_failed("the ID token carries no email (ask for the `email` scope)")
        return Identity(
            subject=str(claims["sub"]),
            email=email,
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or ""),
        )


def client_of(app_state: Any, settings: Settings) -> OidcClient:
    """The process's client (made at first use); SSO_NOT_CONFIGURED without settings."""
    if not settings.oidc_configured:
        raise not_configured()
    found: OidcClient | None = getattr(app_state, "oidc_client", None)
    if found is None:
        found = OidcClient(settings)
        app_state.oidc_client = found
    return found


__all__ = ["Identity", "LicensorError", "OidcClient", "Pending", "client_of", "sso_failed"]
