"""``SessionVerifier``: a token in, the signed-in user's claims out (or SessionTokenError).

Built from settings: AUTH_JWT_KEY (a PEM key) wins over AUTH_JWKS_URL; with neither,
there is no verifier and session tokens are not accepted at all.
"""

from __future__ import annotations

from service.config import Settings
from service.identity.jwks import JwksCache, KeyResolver, StaticKey
from service.identity.jwks_http import HttpJwksSource
from service.identity.session_tokens import (
    SessionClaims,
    TokenPolicy,
    key_from_pem,
    parties,
    read_header,
    verify,
)


class SessionVerifier:
    def __init__(
        self, keys: KeyResolver, policy: TokenPolicy, source: HttpJwksSource | None = None
    ) -> None:
        self.keys = keys
        self.policy = policy
        self._source = source

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionVerifier | None:
        policy = TokenPolicy(
            issuer=settings.auth_issuer,
            authorized_parties=parties(settings.auth_authorized_parties),
            leeway_seconds=settings.auth_leeway_seconds,
        )
        if settings.auth_jwt_key is not None:
            return cls(StaticKey(key_from_pem(settings.auth_jwt_key)), policy)
        if settings.auth_jwks_url is not None:
            source = HttpJwksSource(settings.auth_jwks_url)
            return cls(JwksCache(source), policy, source)
        return None

    async def verify(self, token: str) -> SessionClaims:
        header = read_header(token)  # refuses none/HS256 before any key is looked up
        return verify(token, header, await self.keys.key_for(header), self.policy)

    async def close(self) -> None:
        if self._source is not None:
            await self._source.close()
