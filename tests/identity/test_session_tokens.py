"""Session-token checks with keys the tests make: what passes, and each refusal's code."""

from __future__ import annotations

import time

import pytest

from service.identity.jwks import StaticKey
from service.identity.session_tokens import (
    SessionTokenError,
    TokenPolicy,
    key_from_pem,
    looks_like_jwt,
    read_header,
)
from service.identity.verifier import SessionVerifier
from tests.support.session_keys import ISSUER, PARTY, SigningKey, claims, unsigned_token

RSA = SigningKey.rsa("rsa-1")
EC = SigningKey.ec("ec-1")
POLICY = TokenPolicy(issuer=ISSUER, authorized_parties=frozenset({PARTY}), leeway_seconds=5)


def verifier(key: SigningKey, policy: TokenPolicy = POLICY) -> SessionVerifier:
    return SessionVerifier(StaticKey(key_from_pem(key.public_pem())), policy)


async def refusal(v: SessionVerifier, token: str) -> str:
    with pytest.raises(SessionTokenError) as caught:
        await v.verify(token)
    assert token not in caught.value.message
    return caught.value.code


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
async def test_a_good_token_gives_the_user(key: SigningKey) -> None:
    user = await verifier(key).verify(key.token(**claims("user_alice")))
    assert (user.user_id, user.issuer, user.authorized_party) == ("user_alice", ISSUER, PARTY)
    assert user.session_id == "sess_1"
    assert user.expires_at > time.time()


async def test_alg_none_is_refused() -> None:
    token = unsigned_token({"alg": "none", "typ": "JWT"}, claims(exp=int(time.time()) + 60))
    assert await refusal(verifier(RSA), token) == "session_token_algorithm_not_allowed"


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    pem = RSA.public_pem().encode()
    token = unsigned_token(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(exp=int(time.time()) + 60), pem
    )
    assert await refusal(verifier(RSA), token) == "session_token_algorithm_not_allowed"


async def test_a_token_signed_by_another_key_is_refused() -> None:
    token = SigningKey.rsa("rsa-1").token(**claims())
    assert await refusal(verifier(RSA), token) == "session_token_signature_invalid"


async def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = RSA.token(**claims("user_alice")).split(".")
    other_body = RSA.token(**claims("user_mallory")).split(".")[1]
    token = f"{header}.{other_body}.{signature}"
    assert await refusal(verifier(RSA), token) == "session_token_signature_invalid"


async def test_an_rs256_header_over_an_ec_key_is_refused() -> None:
    token = unsigned_token({"alg": "RS256", "kid": "ec-1"}, claims()) + "c2ln"
    assert await refusal(verifier(EC), token) == "session_token_key_mismatch"


async def test_expiry_and_not_before_with_leeway() -> None:
    v = verifier(RSA)
    now = int(time.time())
    assert await refusal(v, RSA.token(**claims(exp=now - 30))) == "session_token_expired"
    assert await refusal(v, RSA.token(**claims(nbf=now + 60))) == "session_token_not_yet_valid"
    # Within the leeway (5 s): a clock a little behind or ahead is fine.
    assert (await v.verify(RSA.token(**claims(exp=now - 2)))).user_id == "user_alice"
    assert (await v.verify(RSA.token(**claims(nbf=now + 2)))).user_id == "user_alice"


async def test_issuer_must_match_when_set() -> None:
    token = RSA.token(**claims(iss="https://clerk.other.example"))
    assert await refusal(verifier(RSA), token) == "session_token_wrong_issuer"
    no_iss = {k: v for k, v in claims().items() if k != "iss"}
    assert await refusal(verifier(RSA), RSA.token(**no_iss)) == "session_token_wrong_issuer"
    anyone = TokenPolicy(issuer=None, authorized_parties=frozenset(), leeway_seconds=0)
    assert (await verifier(RSA, anyone).verify(token)).issuer == "https://clerk.other.example"


async def test_authorized_party_must_be_listed_when_set() -> None:
    token = RSA.token(**claims(azp="https://evil.example"))
    assert await refusal(verifier(RSA), token) == "session_token_wrong_party"
    no_azp = {k: v for k, v in claims().items() if k != "azp"}
    assert await refusal(verifier(RSA), RSA.token(**no_azp)) == "session_token_wrong_party"


async def test_sub_and_exp_are_required() -> None:
    no_sub = {k: v for k, v in claims().items() if k != "sub"}
    assert await refusal(verifier(RSA), RSA.token(**no_sub)) == "session_token_claims_invalid"
    assert await refusal(verifier(RSA), RSA.token(**claims(sub=""))) == (
        "session_token_claims_invalid"
    )
    assert await refusal(verifier(RSA), RSA.token(**claims(sub="u" * 201))) == (
        "session_token_claims_invalid"
    )


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c", "!!.??.##", "x" * 9000, "a.b.c.d", "eyJhbGciOi.e30.x"]
)
def test_garbage_is_malformed(token: str) -> None:
    with pytest.raises(SessionTokenError) as caught:
        read_header(token)
    assert caught.value.code == "session_token_malformed"


def test_jwt_shape_tells_session_tokens_from_status_tokens_and_api_keys() -> None:
    assert looks_like_jwt(RSA.token(**claims()))
    assert not looks_like_jwt("payload.signature")  # a status token
    assert not looks_like_jwt("test-api-key-0123456789abcdef")


def test_only_rsa_and_p256_pem_keys_are_taken() -> None:
    assert key_from_pem(RSA.public_pem()).algorithm == "RS256"
    assert key_from_pem(EC.public_pem()).algorithm == "ES256"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="P-256"):
        key_from_pem(p384.decode())
    with pytest.raises(ValueError, match=r"."):
        key_from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
