/**
 * Quick replies: `GET /v1/quick-replies` (everyone), `POST /v1/quick-replies` and
 * `DELETE /v1/quick-replies/{id}` (owners and admins). Titles are unique per organization.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { createQuickReplySchema, quickReplyListSchema, quickReplySchema } from './quick-replies.schema.js';
import { assertManagesQuickReplies, createQuickReply, listQuickRepliesOf, removeQuickReply } from './quick-replies.service.js';

/** Registers the quick replies routes (behind the `/v1` authentication hook). */
export async function quickRepliesRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.get('/v1/quick-replies', {
    schema: describeRoute('GET', {
      summary: "The organization's quick replies, by title", tags: ['threads'],
      responses: { 200: quickReplyListSchema },
    }),
  }, async (request) => ({ data: await listQuickRepliesOf(options.db, principalOf(request).orgId) }));

  app.post('/v1/quick-replies', {
    schema: describeRoute('POST', {
      summary: 'Create a quick reply (owners and admins)', tags: ['threads'],
      body: createQuickReplySchema, responses: { 201: quickReplySchema }, errors: ['forbidden', 'conflict'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    // An agent is refused before the body is looked at.
    assertManagesQuickReplies(principal);
    const body = parseInput(createQuickReplySchema, request.body);
    return reply.status(201).send(await createQuickReply(options.db, principal, body));
  });

  app.delete<{ Params: { id: string } }>('/v1/quick-replies/:id', {
    schema: describeRoute('DELETE', {
      summary: 'Delete a quick reply (owners and admins)', tags: ['threads'],
      params: idParams, responses: { 204: null }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    assertManagesQuickReplies(principal);
    await removeQuickReply(options.db, principal, requireUuid(request.params.id, 'quick reply'));
    return reply.status(204).send();
  });
}
