/**
 * One send: decrypt the number's credential (AES-256-GCM), send through the number's provider
 * (`MessageSender`: Meta's Graph API `POST /{phone_number_id}/messages`, or Twilio's Messages API),
 * time it, and hand the outcome to the recorder. Only the dispatcher calls this (SPEC §4: one send
 * path); a missing or undecryptable token, or a free-form message whose customer service window
 * closed while it waited, fails the message for good without a call.
 */
import type { Logger } from 'pino';
import { isWindowOpen } from '../conversations/customer-service-window.js';
import { metrics } from '../ops/metrics.js';
import { isFreeFormMessage, type OutboundMessageType } from '../providers/meta/send.schema.js';
import type { MessageSender, ProviderName } from '../providers/types.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import type { OutcomeRecorder } from './dispatch-outcomes.js';
import { fromStoredContent } from './message-content.js';
import type { Db } from '../db/database.js';
import { groupBy } from '../shared/group-by.js';
import * as outbox from './outbox.repository.js';

export interface DeliverDeps {
  cipher: TokenCipher;
  /** The provider interface per number provider (`phone_numbers.provider`). */
  senders: Partial<Record<ProviderName, MessageSender>>;
  outcomes: OutcomeRecorder;
  logger: Logger;
}

/** The failure title of a free-form message whose customer service window closed before its send. */
export const OUTSIDE_WINDOW_TITLE = 'outside_customer_service_window: the 24-hour customer service window closed while the message waited';

/** Sends one claimed row with its details and records the outcome; resolves once it is recorded. */
export async function deliverRow(deps: DeliverDeps, row: outbox.ClaimedOutboxRow, details: outbox.DeliveryDetails | undefined): Promise<void> {
  const log = () => deps.logger.child({ message_id: row.message_id, outbox_id: row.id, correlation_id: row.correlation_id });
  if (!details?.access_token_ciphertext || !details.access_token_key_id) {
    await deps.outcomes.fail(row, { class: 'permanent', code: null, title: 'phone number has no access token', details: null, httpStatus: null }, log());
    return;
  }
  // A free-form message may have waited (retries, a parked number) past the end of the 24-hour
  // window: Meta would refuse it (131047), so it fails here without a call.
  if (isFreeFormMessage(details.type as OutboundMessageType) && !isWindowOpen(details.last_inbound_at, Date.now())) {
    await deps.outcomes.fail(row, { class: 'permanent', code: null, title: OUTSIDE_WINDOW_TITLE, details: null, httpStatus: null }, log());
    return;
  }
  let token: string;
  try {
    token = deps.cipher.decrypt({ ciphertext: details.access_token_ciphertext, keyId: details.access_token_key_id });
  } catch (error) {
    log().error({ err: error }, 'access token does not decrypt');
    await deps.outcomes.fail(row, { class: 'permanent', code: null, title: 'access token does not decrypt', details: null, httpStatus: null }, log());
    return;
  }
  const sender = deps.senders[details.provider];
  if (!sender) {
    await deps.outcomes.fail(row, { class: 'permanent', code: null, title: `no sender configured for provider ${details.provider}`, details: null, httpStatus: null }, log());
    return;
  }
  const sendStarted = performance.now();
  const result = await sender.sendMessage({
    from: { phoneNumberId: details.phone_number_id, e164: details.from_e164, accountSid: details.twilio_account_sid },
    credential: token,
    // By number whenever known (every provider can); a customer known only by a BSUID gets `recipient` (Meta).
    to: details.e164 !== null ? { e164: details.e164 } : { bsuid: details.bsuid! },
    message: fromStoredContent(details.type, details.content),
  });
  metrics.sendDuration.observe({ outcome: result.ok ? 'accepted' : result.error.class }, (performance.now() - sendStarted) / 1000);
  if (!result.ok) metrics.providerErrors.inc({ code: String(result.error.code ?? 'none'), class: result.error.class });
  if (result.ok) await deps.outcomes.recordSent({ row, wamid: result.providerMessageId });
  else await deps.outcomes.handleFailure(row, result.error, log());
}

/** The send details (number, credential, recipient, content) of claimed rows, by message id; one query per organization. */
export async function loadDeliveryDetails(db: Db, rows: outbox.ClaimedOutboxRow[]): Promise<Map<string, outbox.DeliveryDetails>> {
  const details = new Map<string, outbox.DeliveryDetails>();
  for (const [orgId, group] of groupBy(rows, (row) => row.org_id)) {
    for (const detail of await outbox.findDeliveryDetails(db, orgId, group.map((row) => row.message_id))) details.set(detail.id, detail);
  }
  return details;
}
