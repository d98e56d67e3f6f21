// Your backend mints an order token for paylive: an HS256 JWT, node:crypto only.
import { createHmac } from "node:crypto";

const b64 = (text) => Buffer.from(text).toString("base64url");

// The price your backend decided (minor units), signed with ORDER_TOKEN_SECRET.
export function orderToken(secret, orderId, amount, currency, ttlSeconds = 900) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = b64(JSON.stringify({
    order_id: orderId, // 1-200 characters; one open payment per order
    amount, // e.g. 2500 for EUR 25.00
    currency: currency.toLowerCase(), // three letters
    iat: now,
    exp: now + ttlSeconds,
  }));
  const signature = createHmac("sha256", secret).update(`${header}.${claims}`).digest("base64url");
  return `${header}.${claims}.${signature}`;
}
