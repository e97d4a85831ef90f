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

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The text PostgreSQL holds once `value` is stored, through toJsonb or as a text parameter (pg
 * writes a lone surrogate as the UTF-8 of U+FFFD): NUL and lone surrogates become U+FFFD. Code
 * that matches strings it sent against strings the database returns (a wamid of a batch against
 * RETURNING) must compare these, or a hostile id is counted twice or not at all.
 */
export function asStoredText(value: string): string {
  return value.replace(LONE_SURROGATE, '\ufffd').replaceAll('\u0000', '\ufffd');
}
