"""Updating a saved Google Wallet object through the Wallet REST API.

The service account signs an RS256 assertion (PyJWT) and trades it at the token URL
for an access token (OAuth 2.0 JWT bearer grant), kept until a minute before it runs
out. An update is ``PUT <api>/genericObject/<id>`` with the whole object as it is now
(voided: ``state: INACTIVE``). 404 means the member never saved the pass: nothing to
update. ``WALLET_GOOGLE_API_URL``/``_TOKEN_URL`` point elsewhere (the tests: a server
on the loopback).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from server.wallet.config import GoogleWallet
from server.wallet.outcome import Outcome

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
TIMEOUT = 20.0


class TokenRefused(Exception):
    """The token endpoint did not give an access token."""


class GoogleClient:
    def __init__(self, google: GoogleWallet) -> None:
        self.google = google
        self.client = httpx.AsyncClient(timeout=TIMEOUT)
        self._token: str | None = None
        self._token_until = 0.0

    def assertion(self, now: float) -> str:
        claims = {
            "iss": self.google.client_email,
            "scope": SCOPE,
            "aud": self.google.token_url,
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        headers = {"kid": self.google.key_id} if self.google.key_id else None
        return jwt.encode(claims, self.google.key, algorithm="RS256", headers=headers)

    async def access_token(self) -> str:
        now = time.time()
        if self._token and now < self._token_until:
            return self._token
        response = await self.client.post(
            self.google.token_url,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": self.assertion(now),
            },
        )
        if response.status_code != 200:
            raise TokenRefused(
                f"token endpoint answered {response.status_code}: {response.text[:300]}"
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TokenRefused("token endpoint answered without an access token") from None
        self._token, self._token_until = token, now + max(lifetime - 60, 0)
        return token

    async def put_object(self, resource: dict[str, Any]) -> Outcome:
        url = f"{self.google.api_url}/genericObject/{resource['id']}"
        try:
            token = await self.access_token()
            response = await self.client.put(
                url, json=resource, headers={"Authorization": f"Bearer {token}"}
            )
        except TokenRefused as error:
            return Outcome("retried", f"Google sign-in failed: {error}")
        except (httpx.HTTPError, OSError) as error:
            return Outcome(
                "retried", f"Google Wallet API unreachable: {type(error).__name__}: {error}"
            )
        if response.status_code == 404:
            return Outcome("dropped", "not saved to a Google Wallet (yet): nothing to update")
        if response.status_code == 401:
            self._token = None  # try again with a new token
            return Outcome("retried", "Google Wallet API refused the access token")
        return Outcome.of_status(response.status_code, response.text, "Google Wallet API")

    async def close(self) -> None:
        await self.client.aclose()
