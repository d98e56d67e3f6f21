"""Session tokens (a signed-in user's JWT, e.g. Clerk's): the checks, with PyJWT.

Only asymmetric signatures are accepted (RS256, ES256), and only with a key of the
matching type: `alg: none`, HS256 signed with the public key as the HMAC secret, and an
RS256 header over an EC key are refused before any signature is looked at. Every refusal
is a ``SessionTokenError`` with a stable code; the token itself never appears in one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ALGORITHMS: Final = ("RS256", "ES256")
MAX_TOKEN_LENGTH: Final = 8192
MAX_USER_ID_LENGTH: Final = 200  # customers.external_id


class SessionTokenError(Exception):
    """`code`: session_token_malformed, _algorithm_not_allowed, _unknown_key,
    _key_mismatch, _signature_invalid, _expired, _not_yet_valid, _wrong_issuer,
    _wrong_party, _claims_invalid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TokenHeader:
    alg: str
    kid: str | None


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key and the one algorithm it may verify."""

    algorithm: str
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    kid: str | None = None


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str | None  # None: any issuer
    authorized_parties: frozenset[str]  # empty: any party
    leeway_seconds: int


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: str  # `sub`: the customer's external_id
    session_id: str | None  # `sid` (Clerk)
    issuer: str | None
    authorized_party: str | None  # `azp`: the origin the token was made for
    expires_at: int


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: a JWT, not a status token or an API key."""
    return token.count(".") == 2 and " " not in token


def read_header(token: str) -> TokenHeader:
    """The unverified header, refusing what no key may ever verify."""
    if len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
        raise SessionTokenError("session_token_malformed", "The session token is not a JWT.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SessionTokenError(
            "session_token_malformed", "The session token's header cannot be read."
        ) from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise SessionTokenError(
            "session_token_algorithm_not_allowed",
            f"Session tokens must be signed with {' or '.join(ALGORITHMS)}.",
        )
    if kid is not None and not isinstance(kid, str):
        raise SessionTokenError("session_token_malformed", "The token's kid is not a string.")
    return TokenHeader(alg=alg, kid=kid)


def key_from_pem(pem: str) -> VerificationKey:
    """A PEM public key (Clerk's "JWT public key"): RSA for RS256, P-256 for ES256."""
    try:
        key = load_pem_public_key(pem.encode())
    except UnsupportedAlgorithm as exc:
        raise ValueError(str(exc)) from None
    if isinstance(key, rsa.RSAPublicKey):
        return VerificationKey("RS256", key)
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return VerificationKey("ES256", key)
    raise ValueError("the public key must be RSA (RS256) or EC P-256 (ES256)")


def key_from_jwk(jwk: jwt.PyJWK) -> VerificationKey | None:
    """A JWKS entry we can verify with, or None (encryption keys, other algorithms)."""
    if jwk.public_key_use not in (None, "sig") or jwk.algorithm_name not in ALGORITHMS:
        return None
    key = jwk.key
    if jwk.algorithm_name == "RS256" and isinstance(key, rsa.RSAPublicKey):
        return VerificationKey("RS256", key, jwk.key_id)
    if (
        jwk.algorithm_name == "ES256"
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return VerificationKey("ES256", key, jwk.key_id)
    return None  # a private key or a mismatched curve: never a verification key


def verify(
    token: str, header: TokenHeader, key: VerificationKey, policy: TokenPolicy
) -> SessionClaims:
    """Signature, then exp/nbf/iat (with leeway), issuer, authorized party and subject."""
    if header.alg != key.algorithm:
        raise SessionTokenError(
            "session_token_key_mismatch", "The token's algorithm does not match its key."
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            leeway=policy.leeway_seconds,
            options={"require": ["exp", "sub"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.ExpiredSignatureError:
        raise SessionTokenError("session_token_expired", "The session token expired.") from None
    except jwt.ImmatureSignatureError:
        raise SessionTokenError(
            "session_token_not_yet_valid", "The session token is not valid yet."
        ) from None
    except jwt.InvalidSignatureError:
        raise SessionTokenError(
            "session_token_signature_invalid", "The session token's signature is not valid."
        ) from None
    except jwt.DecodeError:
        raise SessionTokenError(
            "session_token_malformed", "The session token cannot be decoded."
        ) from None
    except jwt.PyJWTError as exc:  # missing or mistyped claims
        raise SessionTokenError(
            "session_token_claims_invalid", f"The session token's claims are not valid: {exc}"
        ) from None
    return _checked_claims(claims, policy)


def _checked_claims(claims: dict[str, Any], policy: TokenPolicy) -> SessionClaims:
    issuer, party, sub, sid = (claims.get(k) for k in ("iss", "azp", "sub", "sid"))
    if policy.issuer is not None and issuer != policy.issuer:
        raise SessionTokenError(
            "session_token_wrong_issuer", "The session token is from another issuer."
        )
    if policy.authorized_parties and party not in policy.authorized_parties:
        raise SessionTokenError(
            "session_token_wrong_party", "The session token was made for another origin (azp)."
        )
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_USER_ID_LENGTH:
        raise SessionTokenError(
            "session_token_claims_invalid", "The session token's sub must be a user id."
        )
    return SessionClaims(
        user_id=sub,
        session_id=sid if isinstance(sid, str) else None,
        issuer=issuer if isinstance(issuer, str) else None,
        authorized_party=party if isinstance(party, str) else None,
        expires_at=int(claims["exp"]),
    )


def parties(values: Collection[str]) -> frozenset[str]:
    """Origins as Clerk writes `azp`: scheme://host[:port], no trailing slash."""
    return frozenset(v.rstrip("/") for v in values)
