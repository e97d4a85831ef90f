/**
 * JSON text for `jsonb` parameters. PostgreSQL's jsonb refuses the NUL character (`\u0000`) and
 * lone UTF-16 surrogates (`\ud800` without its pair), which JSON allows and hostile or buggy
 * payloads contain; one such string must not make a whole webhook fail forever, so both become
 * U+FFFD (the replacement character) and everything else is kept.
 *
 * JSON.stringify writes a well-formed surrogate pair as the character itself and escapes only a
 * lone surrogate, so every `\udXXX` escape in its output (d800–dfff) is a lone one.
 */
const ESCAPED_UNSTORABLE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;

export function toJsonb(value: unknown): string {
  return JSON.stringify(value ?? null).replace(ESCAPED_UNSTORABLE, '$1\\ufffd');
}
