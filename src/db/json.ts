/**
 * JSON text for `jsonb` parameters. PostgreSQL's jsonb refuses the NUL character (`\u0000`), which
 * JSON allows and hostile or buggy payloads contain; one such string must not make a whole webhook
 * fail forever, so NUL becomes U+FFFD (the replacement character) and everything else is kept.
 */
const ESCAPED_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

export function toJsonb(value: unknown): string {
  return JSON.stringify(value ?? null).replace(ESCAPED_NUL, '$1\\ufffd');
}
