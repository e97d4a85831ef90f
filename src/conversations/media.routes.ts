/**
 * `GET /v1/messages/{id}/media`: the content of an inbound media message (image, video, audio,
 * document, sticker), fetched from Meta with the business number's token and streamed to the
 * caller as an attachment. Nothing is stored: Meta keeps media for 30 days.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { requireUuid } from '../http/validation.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { downloadInboundMedia } from './media.service.js';

/** A filename safe for Content-Disposition (ASCII, no quotes or separators). */
function attachmentName(content: Record<string, unknown>, type: string, id: string): string {
  const given = typeof content.filename === 'string' ? content.filename : '';
  const safe = given.replace(/[^\w.\- ]/g, '_').slice(0, 100).trim();
  return safe || `${type}-${id}`;
}

export async function mediaRoutes(app: FastifyInstance, options: { db: Db; cipher: TokenCipher; graph: GraphApiClient }): Promise<void> {
  app.get<{ Params: { id: string } }>('/v1/messages/:id/media', {
    schema: describeRoute('GET', {
      summary: 'Download the media of an inbound message', tags: ['messages'],
      description: "Fetched from Meta with the business number's token and streamed as an attachment; nothing is stored.",
      params: idParams,
      responses: { 200: { description: "the media, with Meta's MIME type (image/jpeg, audio/ogg, application/pdf, …)", contentType: '*/*', schema: { type: 'string', format: 'binary' } } },
      errors: ['not_found', 'phone_number_not_active', 'provider_error'],
    }),
  }, async (request, reply) => {
    const { orgId } = principalOf(request);
    const { message, media: download } = await downloadInboundMedia(options, orgId, requireUuid(request.params.id, 'message'));
    void reply
      .type(download.mimeType)
      .header('content-disposition', `attachment; filename="${attachmentName(message.content, message.type, message.id)}"`)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, max-age=300');
    if (download.size !== null) void reply.header('content-length', download.size);
    return reply.send(download.body);
  });
}
