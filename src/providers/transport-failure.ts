/**
 * A send or Graph call that got no HTTP answer (refused connection, reset, timeout): retryable,
 * with no provider code and no status. Shared by the Meta and Twilio clients.
 */
export function transportFailure(error: unknown): { class: 'retryable'; code: null; title: string; details: null; httpStatus: null } {
  const title = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { class: 'retryable', code: null, title, details: null, httpStatus: null };
}
