// Types for paylive.js, the live payment status client.

/** A payment as the service reports it (GET /api/payments/{id}). */
export interface Payment {
  payment_id: string;
  order_id: string;
  flow: "payment_intent" | "checkout_session";
  status:
    | "requires_payment_method"
    | "requires_confirmation"
    | "requires_action"
    | "processing"
    | "requires_capture"
    | "succeeded"
    | "canceled"
    | (string & {});
  version: number;
  amount: number;
  currency: string;
  amount_captured: number;
  amount_refunded: number;
  payment_intent_id: string | null;
  checkout_session_id: string | null;
  checkout_url: string | null;
  cancellation_reason: string | null;
  description: string | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}

/** One change in the payment's history (GET /api/payments/{id}/timeline). */
export interface TimelineEntry {
  version: number;
  kind: string;
  status: string;
  cause_type: string;
  cause_id: string | null;
  data: Record<string, unknown>;
  at: string;
}

/** A payment attempt as the customer may see it: fraud declines look like plain ones,
 * and `advice_message` is the service's customer-safe text, never Stripe's. Keys without
 * a value are left out. */
export interface Attempt {
  outcome: "succeeded" | "failed" | "requires_action" | "processing" | "canceled" | (string & {});
  card_brand?: string;
  card_last4?: string;
  error_code?: string;
  decline_code?: string;
  /** e.g. "use_another_card", "authenticate", "try_again_later". */
  advice_next_step?: string;
  /** Whether retrying the same card can help; only for a failed attempt. */
  advice_retryable?: boolean;
  advice_message?: string;
  /** When its timeline entry was recorded. */
  at: string;
}

/** What onChange receives: versions only grow, each is delivered once. Every field of the
 * server's snapshot or update frame is passed through as sent (fields added later too),
 * with `paymentId` and `entries` beside them. */
export interface Change {
  type: "snapshot" | "update";
  paymentId: string;
  /** The frame's own fields. */
  payment_id: string;
  version: number;
  payment: Payment;
  /** The timeline entries the frame carried (after a resync it may repeat some). */
  timeline: TimelineEntry[];
  /** The newest attempt among the frame's timeline entries, or null when none records one
   * (keep the one you have). */
  attempt: Attempt | null;
  /** Timeline entries after the previous change delivered to this watch, oldest first:
   * each version's entry exactly once. */
  entries: TimelineEntry[];
}

/** Why a watch ended: `code` is the service's error code (token_expired, payment_not_found…). */
export declare class PayliveError extends Error {
  readonly code: string;
  readonly status: number | undefined;
}

export type ConnectionState =
  | "idle"
  | "connecting"
  | "live"
  | "reconnecting"
  | "paused"
  | "closed";

export interface ConnectOptions {
  /** The service's origin, e.g. "https://payments.example.com"; default: the page's origin. */
  baseUrl?: string;
  /** "auto" (WebSocket, then SSE if it cannot be opened), "websocket" or "sse". */
  transport?: "auto" | "websocket" | "sse";
  /** Failed WebSocket handshakes in a row before "auto" tries SSE (default 3). */
  fallbackAfter?: number;
  /** Reconnect backoff: doubles from min to max, with jitter (defaults 500 / 15000 ms). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Silence after which a connection is taken for dead (default 60000 ms). */
  silenceMs?: number;
  /** Close the connection while the tab is hidden; resume from the version held. */
  pauseWhenHidden?: boolean;
  /** How long the tab must stay hidden before pausing (default 5000 ms). */
  pauseAfterMs?: number;
  onConnection?: (state: ConnectionState, detail: string) => void;
  /** Injected implementations (tests, other runtimes); null WebSocket means SSE only. */
  WebSocket?: typeof WebSocket | null;
  fetch?: typeof fetch;
  document?: Pick<Document, "visibilityState" | "addEventListener" | "removeEventListener"> | null;
}

export interface WatchOptions {
  onChange?: (change: Change) => void;
  /** Only changes above this version are delivered (a version already shown). */
  sinceVersion?: number;
  /** The watch has ended (bad or expired token, unknown payment, too many subscriptions). */
  onError?: (error: PayliveError) => void;
}

export interface Watch {
  readonly paymentId: string;
  /** The last version delivered (or sinceVersion). */
  readonly version: number;
  readonly payment: Payment | null;
  /** False once unwatched, closed or failed. */
  readonly active: boolean;
  unwatch(): void;
}

export interface Live {
  /** `token`: the payment's status token, or a signed-in user's session token. */
  watch(paymentId: string, token: string, options?: WatchOptions): Watch;
  /** Ends every watch; no timer, socket, stream or listener is left behind. */
  close(): void;
  readonly state: ConnectionState;
  readonly transport: "websocket" | "sse";
  /** WebSockets opened so far. */
  readonly sockets: number;
}

export function connect(options?: ConnectOptions): Live;
