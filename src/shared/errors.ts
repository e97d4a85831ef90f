/**
 * The closed set of error codes wahub answers with, each mapped to one HTTP status. Every API error
 * is `{"error":{"code":"snake_case","message":"…"}}` (plus `details` for validation problems).
 */
export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_json: 400,
  invalid_cursor: 400,
  invalid_oauth_state: 400,
  signup_code_expired: 400,
  signup_code_used: 400,
  waba_not_granted: 400,
  unauthorized: 401,
  invalid_signature: 401,
  forbidden: 403,
  not_allowed_to_send: 403,
  invalid_csrf_token: 403,
  not_found: 404,
  idempotency_key_reused: 409,
  conflict: 409,
  consistency_check_failed: 409,
  pin_mismatch: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  outside_customer_service_window: 422,
  contact_blocked: 422,
  phone_number_not_active: 422,
  invalid_phone_number: 422,
  phone_number_required: 422,
  url_not_allowed: 422,
  otp_incorrect: 422,
  template_not_found: 422,
  template_not_approved: 422,
  template_language_not_found: 422,
  template_parameters_mismatch: 422,
  templates_not_synced: 422,
  template_rejected_by_meta: 422,
  otp_expired: 422,
  otp_not_requested: 422,
  otp_already_used: 409,
  otp_attempts_exceeded: 429,
  rate_limited: 429,
  internal_error: 500,
  provider_error: 502,
  database_unavailable: 503,
  not_configured: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error with a stable code, safe to show to API callers. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);

/** Coerces anything thrown into an Error, keeping the original as `cause`. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value), { cause: value });
}
