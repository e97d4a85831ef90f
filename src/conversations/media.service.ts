/**
 * Inbound media (image, video, audio, document, sticker): its content is downloaded from Meta with
 * the business number's token when an operator asks for it (`GET /v1/messages/{id}/media`). Nothing
 * is stored: Meta keeps media for 30 days [M-MEDIA].
 */
import type { Executor } from '../db/database.js';
import type { MessageRow } from '../db/schema.js';
import { findAccessToken } from '../numbers/credentials.service.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import { downloadMedia, type MediaDownload } from '../providers/meta/media.client.js';
import { AppError, notFound } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { findMessage } from './messages.repository.js';

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/**
 * Starts downloading the media of an inbound message of the organization; the caller streams
 * `media.body` (and must consume or dump it).
 * @param messageId the message's id (a UUID, validated by the caller)
 * @returns the message (for its type, content and filename) and the download under way
 * @throws AppError not_found (no such message in the organization, not inbound, or not media with a
 *   media id), phone_number_not_active (the number holds no token), provider_error (Meta refused)
 */
export async function downloadInboundMedia(
  deps: { db: Executor; cipher: TokenCipher; graph: GraphApiClient },
  orgId: string,
  messageId: string,
): Promise<{ message: MessageRow; media: Extract<MediaDownload, { ok: true }> }> {
  const message = await findMessage(deps.db, orgId, messageId);
  const mediaId = message?.content.id;
  if (!message || message.direction !== 'inbound' || !MEDIA_TYPES.has(message.type) || typeof mediaId !== 'string') throw notFound('media');
  const accessToken = await findAccessToken(deps.db, deps.cipher, orgId, message.phone_number_ref);
  if (accessToken === undefined) throw new AppError('phone_number_not_active', 'the business number has no token: reconnect it to download media');
  const download = await downloadMedia(deps.graph, { mediaId, accessToken, graphBaseUrl: deps.graph.baseUrl, timeoutMs: deps.graph.timeoutMs });
  if (!download.ok) throw new AppError('provider_error', `Meta refused the media download: ${download.error.title}`, { code: download.error.code });
  return { message, media: download };
}
