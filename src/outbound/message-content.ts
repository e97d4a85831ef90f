/**
 * How an outbound message is stored: `messages.type` plus `messages.content` = the type's object as
 * in Meta's send API, with the optional reply `context` beside its fields. The same shape as
 * inbound content (`{ body }` for text, …), so readers see one format.
 */
import type { OutboundMessage } from '../providers/meta/send.schema.js';

/** Stored content of an outbound message: the type's object plus `context` when replying. */
export function toStoredContent(message: OutboundMessage): Record<string, unknown> {
  const record = message as unknown as Record<string, unknown>;
  const body = { ...(record[message.type] as Record<string, unknown>) };
  if (record.context) body.context = record.context;
  return body;
}

/** The send-API message back from what was stored. */
export function fromStoredContent(type: string, content: Record<string, unknown>): OutboundMessage {
  const { context, ...body } = content;
  const message: Record<string, unknown> = { type, [type]: body };
  if (context) message.context = context;
  return message as unknown as OutboundMessage;
}
