// Signed-in customers in the demo. The sign-in page (the local Clerk stand-in, or Clerk)
// sends the browser back with the session token in the URL fragment; it is kept in the
// `__session` cookie, as Clerk keeps it, so every same-origin request carries it by
// itself. Live status (paylive.js) takes its credential explicitly: sessionToken().
import { api, el, loadConfig } from "./common.js";

const COOKIE = "__session";
let userPromise = null;

function takeTokenFromFragment() {
  const match = /^#__session=([A-Za-z0-9._-]+)$/.exec(window.location.hash);
  if (!match) return;
  document.cookie = `${COOKIE}=${match[1]}; path=/; SameSite=Lax; max-age=3600`;
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

// The signed-in customer's session token, or "" when signed out.
export function sessionToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}=`));
  return cookie ? cookie.slice(COOKIE.length + 1) : "";
}

function hasSession() {
  return sessionToken() !== "";
}

export function signOut() {
  document.cookie = `${COOKIE}=; path=/; max-age=0`;
  userPromise = null;
}

async function fetchUser() {
  takeTokenFromFragment();
  if (!hasSession()) return null;
  try {
    return await api("GET", "/api/me");
  } catch (err) {
    if (err.status === 401) {
      signOut(); // expired or not ours: signed out, not broken
      return null;
    }
    throw err;
  }
}

// The signed-in customer (GET /api/me), or null; asked once per page.
export function currentUser() {
  if (!userPromise) userPromise = fetchUser();
  return userPromise;
}

export function signInUrl(config, back = window.location.href) {
  return `${config.sign_in_url}?redirect_url=${encodeURIComponent(back.split("#")[0])}`;
}

// The header's account slot: "Sign in", or who is signed in, "My bookings" and "Sign out".
export async function renderAccount(root) {
  const [config, user] = await Promise.all([loadConfig(), currentUser()]);
  root.replaceChildren();
  if (user) {
    root.append(
      el("span", { "data-testid": "signed-in-as", text: user.email || user.name || "Signed in" }),
      " · ",
      el("a", { href: "/bookings", "data-testid": "my-bookings-link", text: "My bookings" }),
      " · ",
      el("button", {
        type: "button",
        class: "link",
        "data-testid": "sign-out",
        text: "Sign out",
        onclick: () => {
          signOut();
          window.location.assign("/");
        },
      }),
    );
  } else if (config.sign_in_url) {
    root.append(el("a", { href: signInUrl(config), "data-testid": "sign-in", text: "Sign in" }));
  }
  root.dataset.ready = "true";
  return user;
}

const slot = document.querySelector('[data-testid="account"]');
if (slot) renderAccount(slot).catch((err) => { slot.textContent = `Account unavailable: ${err.message}`; });
