/**
 * The simulator's media endpoints [M-MEDIA]: any media id resolves to a small text file served by
 * the simulator itself (`GET /{version}/{media_id}` → its URL, then the bytes).
 */
import type { FastifyInstance } from 'fastify';
import { invalidAccessToken, unknownObject } from './errors.js';

/** The bytes the simulator serves for any media id. */
const simulatedMedia = (mediaId: string) => Buffer.from(`simulated WhatsApp media ${mediaId}\n`);

/** Registers the media routes on the simulator's plugin scope. */
export function mediaRoutes(app: FastifyInstance): void {
  app.get<{ Params: { version: string; media_id: string } }>('/:version/:media_id', async (req, reply) => {
    if (!/^Bearer\s+\S+$/i.test(req.headers.authorization ?? '')) return reply.code(401).send(invalidAccessToken().body);
    if (!/^\d+$/.test(req.params.media_id)) return reply.code(400).send(unknownObject(req.params.media_id).body);
    const prefix = req.url.slice(0, req.url.indexOf(`/${req.params.version}/`));
    return {
      messaging_product: 'whatsapp', id: req.params.media_id, mime_type: 'text/plain', file_size: simulatedMedia(req.params.media_id).length,
      sha256: 'simulated', url: `${req.protocol}://${req.headers.host}${prefix}/_simulator/media/${req.params.media_id}`,
    };
  });
  app.get<{ Params: { media_id: string } }>('/_simulator/media/:media_id', async (req, reply) => {
    if (!/^Bearer\s+\S+$/i.test(req.headers.authorization ?? '')) return reply.code(401).send(invalidAccessToken().body);
    return reply.type('text/plain').send(simulatedMedia(req.params.media_id));
  });
}
