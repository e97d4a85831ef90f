/**
 * Meta's view of the normalised webhook items (the items themselves live in `../types.ts`, shared
 * with Twilio). Source: Meta webhooks reference, `messages` field (webhooks/reference/messages) and
 * PROTOCOL.md §2.
 */
import type { DeliveryStatusValue, ProviderErrorItem } from '../types.js';

/** Delivery statuses Meta reports for outbound messages (`statuses[].status`) [M-STATUS]. */
export const META_STATUS_VALUES: readonly DeliveryStatusValue[] = ['sent', 'delivered', 'read', 'played', 'failed'];
export type MetaStatusValue = DeliveryStatusValue;

/** Meta error object as found in `value.errors[]`, `messages[].errors[]`, `statuses[].errors[]`. */
export type MetaErrorItem = ProviderErrorItem;
