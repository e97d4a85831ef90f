/**
 * `GET /v1/messages/{id}/media`: the content of an inbound media message (image, video, audio,
 * document, sticker), fetched from Meta with the business number's token and streamed to the
 * caller as an attachment. Nothing is stored: Meta keeps media for 30 days.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { requireUuid } from '../http/validation.js';
import { findPhoneNumberById } from '../numbers/numbers.repository.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import { downloadMedia } from '../providers/meta/media.client.js';
import { AppError, notFound } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { findMessage } from './messages.repository.js';

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** A filename safe for Content-Disposition (ASCII, no quotes or separators). */
function attachmentName(content: Record<string, unknown>, type: string, id: string): string {
  const given = typeof content.filename === 'string' ? content.filename : '';
  const safe = given.replace(/[^\w.\- ]/g, '_').slice(0, 100).trim();
  return safe || `${type}-${id}`;
}

export async function mediaRoutes(app: FastifyInstance, options: { db: Db; cipher: TokenCipher; graph: GraphApiClient }): Promise<void> {
  app.get<{ Params: { id: string } }>('/v1/messages/:id/media', async (request, reply) => {
    const { orgId } = principalOf(request);
    const message = await findMessage(options.db, orgId, requireUuid(request.params.id, 'message'));
    const mediaId = message?.content.id;
    if (!message || message.direction !== 'inbound' || !MEDIA_TYPES.has(message.type) || typeof mediaId !== 'string') throw notFound('media');
    const number = await findPhoneNumberById(options.db, orgId, message.phone_number_ref);
    if (!number?.access_token_ciphertext || !number.access_token_key_id) {
      throw new AppError('phone_number_not_active', 'the business number has no token: reconnect it to download media');
    }
    const accessToken = options.cipher.decrypt({ ciphertext: number.access_token_ciphertext, keyId: number.access_token_key_id });
    const download = await downloadMedia(options.graph, { mediaId, accessToken, graphBaseUrl: options.graph.baseUrl, timeoutMs: options.graph.timeoutMs });
    if (!download.ok) throw new AppError('provider_error', `Meta refused the media download: ${download.error.title}`, { code: download.error.code });
    void reply
      .type(download.mimeType)
      .header('content-disposition', `attachment; filename="${attachmentName(message.content, message.type, message.id)}"`)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, max-age=300');
    if (download.size !== null) void reply.header('content-length', download.size);
    return reply.send(download.body);
  });
}
