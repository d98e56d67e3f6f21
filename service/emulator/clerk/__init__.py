"""A local stand-in for Clerk (the demo's sign-in): sign-in page, session tokens, JWKS and
Svix-signed user webhooks. Never imported by production code."""
