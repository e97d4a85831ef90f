/**
 * A provider answer's body as JSON. Providers answer JSON, but proxies and 5xx pages may not:
 * an empty or unparsable body is null, never an exception.
 */
export function parseJsonOrNull(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}
