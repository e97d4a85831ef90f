/**
 * Meta's implementation of {@link MessageSender}: builds the Graph API body
 * (`buildMetaSendRequest`) and sends it with {@link GraphApiClient.sendMessage}.
 */
import type { MessageSender, ProviderSendResult, SendRequest } from '../types.js';
import type { GraphApiClient } from './graph.client.js';
import { buildMetaSendRequest } from './send.schema.js';

export class MetaSender implements MessageSender {
  constructor(private readonly graph: GraphApiClient) {}

  /** @returns the wamid (null for a read receipt), or Meta's error classified (errors.ts) */
  async sendMessage(input: SendRequest): Promise<ProviderSendResult> {
    const result = await this.graph.sendMessage(input.from.phoneNumberId, input.credential, buildMetaSendRequest(input.to, input.message));
    return result.ok ? { ok: true, providerMessageId: result.wamid } : result;
  }
}
