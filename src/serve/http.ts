/**
 * HTTP helpers of the analyst server: JSON error responses (`{error: message}`, never a stack
 * trace), the security headers every response carries, the capped body reader and the
 * constant-time token check.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** An error meant for the client: its HTTP status and one-sentence message. */
export class HttpError extends Error {
  /** `status`: the HTTP status code to answer with. */
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/**
 * Content-Security-Policy of every response: only same-origin scripts, styles and requests
 * (no CDN, no inline script), images from the page itself or data:/blob: URLs it made.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** A response with the security headers added. */
export function withHeaders(
  body: BodyInit | null,
  status: number,
  headers: Record<string, string>,
): Response {
  return new Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } });
}

/** A JSON response. */
export function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return withHeaders(JSON.stringify(value), status, {
    "content-type": "application/json; charset=utf-8",
    ...headers,
  });
}

/** The JSON error response `{error: message}`. */
export function jsonError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json({ error: message }, status, headers);
}

/**
 * Reads a request body of at most `maxBytes`: refused from Content-Length when it says more,
 * else read chunk by chunk and abandoned as soon as it passes the cap (so a lying or missing
 * Content-Length cannot make the server buffer more).
 */
export async function readCapped(req: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooBig = (n: string) =>
    new HttpError(413, `upload is ${n} bytes, over the limit of ${maxBytes} bytes (--max-upload-mb)`);
  const len = req.headers.get("content-length");
  if (len !== null && /^\d+$/.test(len) && Number(len) > maxBytes) throw tooBig(len);
  if (!req.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooBig(`more than ${maxBytes}`);
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * True when the request carries `token` (header `Authorization: Bearer T` or `X-FT-Token: T`).
 * Compared in constant time over sha256 digests, so neither content nor length leaks.
 */
export function hasToken(req: Request, token: string): boolean {
  const auth = req.headers.get("authorization");
  const given = auth?.toLowerCase().startsWith("bearer ")
    ? auth.slice(7).trim()
    : req.headers.get("x-ft-token");
  if (given === null || given === undefined) return false;
  return timingSafeEqual(digest(given), digest(token));
}

/** True for host names that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
