/**
 * Meta Graph API error responses, as the Cloud API returns them (PROTOCOL.md §3.3, §3.4).
 *
 * Shape [M-ERR]: `{ error: { message: "(#<code>) <title>", type, code, error_data: { messaging_product,
 * details }, error_subcode?, fbtrace_id } }`. Clients must key on `code` + `error_data.details`;
 * titles are only there to look real.
 */
import { randomBytes } from 'node:crypto';

/** Title and HTTP status per error code, from Meta's error-code table [M-ERR]. */
export const META_ERROR_CODES: Readonly<Record<number, { title: string; httpStatus: number }>> = {
  0: { title: 'AuthException', httpStatus: 401 },
  1: { title: 'API Unknown', httpStatus: 400 },
  2: { title: 'API Service', httpStatus: 503 },
  4: { title: 'API Too Many Calls', httpStatus: 400 },
  10: { title: 'Permission Denied', httpStatus: 403 },
  100: { title: 'Invalid parameter', httpStatus: 400 },
  190: { title: 'Access token has expired', httpStatus: 401 },
  368: { title: 'Temporarily blocked for policies violations', httpStatus: 403 },
  80007: { title: 'Rate limit issues', httpStatus: 400 },
  130429: { title: 'Rate limit hit', httpStatus: 400 },
  130497: { title: 'Business account is restricted from messaging users in this country', httpStatus: 403 },
  131000: { title: 'Something went wrong', httpStatus: 500 },
  131005: { title: 'Access denied', httpStatus: 403 },
  131008: { title: 'Required parameter is missing', httpStatus: 400 },
  131009: { title: 'Parameter value is not valid', httpStatus: 400 },
  131016: { title: 'Service unavailable', httpStatus: 500 },
  131026: { title: 'Message undeliverable', httpStatus: 400 },
  131031: { title: 'Business Account locked', httpStatus: 403 },
  131042: { title: 'Business eligibility payment issue', httpStatus: 400 },
  131047: { title: 'Re-engagement message', httpStatus: 400 },
  131048: { title: 'Spam rate limit hit', httpStatus: 400 },
  131049: { title: 'This message was not delivered to maintain healthy ecosystem engagement.', httpStatus: 400 },
  131050: { title: 'User has stopped marketing messages', httpStatus: 400 },
  131051: { title: 'Unsupported message type', httpStatus: 400 },
  131052: { title: 'Media download error', httpStatus: 400 },
  131053: { title: 'Media upload error', httpStatus: 400 },
  131056: { title: '(Business Account, Consumer Account) pair rate limit hit', httpStatus: 400 },
  131057: { title: 'Account in maintenance mode', httpStatus: 500 },
  132000: { title: 'Number of parameters does not match the expected number of params', httpStatus: 400 },
  132001: { title: 'Template does not exist', httpStatus: 404 },
  132012: { title: 'Parameter format does not match format in the created template', httpStatus: 400 },
  132015: { title: 'Template is Paused', httpStatus: 400 },
  132016: { title: 'Template is Disabled', httpStatus: 400 },
  133004: { title: 'Server temporarily unavailable', httpStatus: 503 },
  133005: { title: 'Two step verification PIN Mismatch', httpStatus: 400 },
  133010: { title: 'Phone number Not Registered', httpStatus: 400 },
  133016: { title: 'Account register deregister rate limit exceeded', httpStatus: 400 },
};

const ERROR_CODES_HREF = 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/';

/** Title and HTTP status of a code; 200–299 are the API Permission range (403), unknown codes 400. */
export function describeMetaErrorCode(code: number): { title: string; httpStatus: number } {
  const known = META_ERROR_CODES[code];
  if (known) return known;
  if (code >= 200 && code <= 299) return { title: 'API Permission', httpStatus: 403 };
  return { title: 'Unknown error', httpStatus: 400 };
}

/** A Meta error response: HTTP status plus JSON body. */
export interface MetaErrorResponse {
  statusCode: number;
  body: {
    error: {
      message: string;
      type: string;
      code: number;
      error_data: { messaging_product: 'whatsapp'; details: string };
      error_subcode?: number;
      fbtrace_id: string;
    };
  };
}

/**
 * Builds the synchronous error response for a code.
 * @param code Meta error code (PROTOCOL.md §3.4)
 * @param options `details` for error_data (defaults to the title), `message` to replace the
 *   `(#code) title` text, `subcode`, `httpStatus` to override the table's status
 */
export function buildMetaError(
  code: number,
  options: { details?: string; message?: string; subcode?: number; httpStatus?: number } = {},
): MetaErrorResponse {
  const { title, httpStatus } = describeMetaErrorCode(code);
  return {
    statusCode: options.httpStatus ?? httpStatus,
    body: {
      error: {
        message: options.message ?? `(#${code}) ${title}`,
        type: 'OAuthException',
        code,
        error_data: { messaging_product: 'whatsapp', details: options.details ?? title },
        ...(options.subcode === undefined ? {} : { error_subcode: options.subcode }),
        fbtrace_id: randomBytes(12).toString('base64url'),
      },
    },
  };
}

/** `(#100)` for a body Graph would refuse; `details` names the field and the problem. */
export function invalidParameter(details: string): MetaErrorResponse {
  return buildMetaError(100, { details });
}

/** `100`/subcode 33: the phone number id is not an object Graph knows (or the token cannot see). */
export function unknownObject(id: string): MetaErrorResponse {
  return buildMetaError(100, {
    subcode: 33,
    message:
      `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing ` +
      'permissions, or does not support this operation. Please read the Graph API documentation at ' +
      'https://developers.facebook.com/docs/graph-api',
    details: `Object with ID '${id}' does not exist`,
  });
}

/** `190` with 401: bearer missing, unparsable or not the number's token. */
export function invalidAccessToken(): MetaErrorResponse {
  return buildMetaError(190, {
    message: 'Invalid OAuth access token - Cannot parse access token',
    details: 'Invalid OAuth access token',
  });
}

/** The error object of a `failed` status webhook: `statuses[].errors[]` [M-STATUS]. */
export function buildStatusError(code: number, details?: string): Record<string, unknown> {
  const { title } = describeMetaErrorCode(code);
  return { code, title, message: title, error_data: { details: details ?? title }, href: ERROR_CODES_HREF };
}
