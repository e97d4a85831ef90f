/**
 * Operator sessions over HTTP: the `wahub_session` cookie (httpOnly, SameSite=Lax) carries the
 * session token; the `wahub_csrf` cookie (readable by the page, SameSite=Strict) carries the CSRF
 * token, which the page echoes in `X-CSRF-Token` on every state-changing request. The server checks
 * the header against the hash stored with the session (a synchronizer token, not a bare
 * double-submit), so neither a cross-site form nor a cookie planted by a sibling subdomain passes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseCookies, serializeCookie } from './cookies.js';

export const SESSION_COOKIE = 'wahub_session';
export const CSRF_COOKIE = 'wahub_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** The session token of the request's cookie, if any. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  return parseCookies(request.headers.cookie).get(SESSION_COOKIE) || undefined;
}

/**
 * HTTPS as the browser sees it: directly, or through a TLS-terminating proxy (`X-Forwarded-Proto`).
 * Trusting the header is safe here: it can only add `Secure`, which makes the cookie stricter.
 */
const isHttps = (request: FastifyRequest) =>
  request.protocol === 'https' || String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https';

/** Sets both session cookies after login; they expire after `maxAgeSeconds` (the session's absolute lifetime). */
export function setSessionCookies(request: FastifyRequest, reply: FastifyReply, session: { token: string; csrfToken: string; maxAgeSeconds: number }): void {
  const { token, csrfToken, maxAgeSeconds: maxAge } = session;
  void reply.header('set-cookie', [
    serializeCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Lax', secure: isHttps(request), maxAge }),
    serializeCookie(CSRF_COOKIE, csrfToken, { sameSite: 'Strict', secure: isHttps(request), maxAge }),
  ]);
}

/** Deletes both session cookies (logout). */
export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('set-cookie', [
    serializeCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'Lax', secure: isHttps(request), maxAge: 0 }),
    serializeCookie(CSRF_COOKIE, '', { sameSite: 'Strict', secure: isHttps(request), maxAge: 0 }),
  ]);
}
