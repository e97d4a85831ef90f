/**
 * Transitional re-exports, no SQL: the SQL of numbers/ lives in `wabas.repository.ts`,
 * `phone-numbers.repository.ts`, `inbound-routing.repository.ts` and
 * `token-rotation.repository.ts`. These names are still imported from here by modules that other
 * work has open (`conversations/threads.service.ts`, `outbound/outbound.service.ts`,
 * `endusers/otp.service.ts`, `inbound/inbound.service.ts`, `inbound/store-messages.ts`); delete this
 * file once those imports point at the files above.
 */
export { findPhoneNumberByPhoneNumberId, updateMessagingLimitTier } from './phone-numbers.repository.js';
export type { ConnectedPhoneNumber } from './inbound-routing.repository.js';
