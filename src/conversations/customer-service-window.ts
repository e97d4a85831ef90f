/**
 * The customer service window (Meta, "Send messages"): for 24 hours after a customer's latest
 * message the business may send free-form messages; outside it, only templates. A thread's
 * `last_inbound_at` opens it, so the window is a fact of the conversation, which sends (outbound)
 * and the thread's public JSON both read.
 */

/** Length of the customer service window, ms (24 hours). */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * End of the customer service window while it is open.
 * @param lastInboundAt time of the customer's latest inbound message, or null when they never wrote
 * @param now epoch ms
 * @returns the instant the window closes, or null when it is closed (or never opened)
 */
export function customerServiceWindowEnd(lastInboundAt: Date | null, now: number): Date | null {
  if (lastInboundAt === null) return null;
  const end = lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS;
  return end > now ? new Date(end) : null;
}

/**
 * Whether free-form messages may be sent (an inbound message less than 24 hours before `now`).
 * @param lastInboundAt time of the customer's latest inbound message, or null when they never wrote
 * @param now epoch ms
 */
export function isWindowOpen(lastInboundAt: Date | null, now: number): boolean {
  return customerServiceWindowEnd(lastInboundAt, now) !== null;
}
