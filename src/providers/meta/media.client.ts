/**
 * Downloading a WhatsApp media object [M-MEDIA]: `GET /{version}/{media_id}` (bearer business token)
 * answers `{url, mime_type, sha256, file_size, id}`; the `url` (Meta's CDN, valid ~5 minutes) is
 * then fetched with the same bearer token. The URL is only followed when it points at Meta's
 * media hosts or at the configured Graph base (the simulator), never anywhere a payload says.
 */
import { request } from 'undici';
import type { GraphApiClient, GraphApiError } from './graph.client.js';

export interface MediaObject {
  url: string;
  mime_type?: string;
  file_size?: number;
}

export type MediaDownload =
  | { ok: true; mimeType: string; size: number | null; body: AsyncIterable<Uint8Array> & { dump(): Promise<void> } }
  | { ok: false; error: GraphApiError | { code: null; title: string } };

const META_MEDIA_HOSTS = /(^|\.)(fbsbx\.com|facebook\.com|fbcdn\.net|whatsapp\.net)$/;

/** True when `url` may be fetched with a business token. */
export function isTrustedMediaUrl(url: string, graphBaseUrl: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:' && META_MEDIA_HOSTS.test(parsed.hostname)) return true;
  const base = new URL(graphBaseUrl);
  return parsed.origin === base.origin && parsed.pathname.startsWith(base.pathname.replace(/\/$/, ''));
}

/**
 * Resolves and opens a media object's content.
 * @param mediaId Meta media id from an inbound message
 * @returns a body stream to pipe to the caller, or the error; never throws for HTTP failures
 */
export async function downloadMedia(graph: GraphApiClient, values: { mediaId: string; accessToken: string; graphBaseUrl: string; timeoutMs: number }): Promise<MediaDownload> {
  const meta = await graph.call<MediaObject>('GET', `/${encodeURIComponent(values.mediaId)}`, { token: values.accessToken });
  if (!meta.ok) return meta;
  if (typeof meta.data?.url !== 'string' || !isTrustedMediaUrl(meta.data.url, values.graphBaseUrl)) {
    return { ok: false, error: { code: null, title: 'Meta answered a media URL outside its media hosts' } };
  }
  try {
    const response = await request(meta.data.url, {
      headers: { authorization: `Bearer ${values.accessToken}` },
      signal: AbortSignal.timeout(values.timeoutMs),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return { ok: false, error: { code: null, title: `media download answered HTTP ${response.statusCode}` } };
    }
    const length = Number(response.headers['content-length']);
    return {
      ok: true,
      mimeType: meta.data.mime_type ?? String(response.headers['content-type'] ?? 'application/octet-stream'),
      size: Number.isFinite(length) ? length : null,
      body: response.body,
    };
  } catch (error) {
    return { ok: false, error: { code: null, title: error instanceof Error ? error.message : String(error) } };
  }
}
