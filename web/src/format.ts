// Display helpers: names, numbers, times, previews.
import type { LastMessage, Message, Thread } from './api';

type Customer = Pick<Thread, 'profile_name' | 'e164' | 'username' | 'bsuid'>;

/** How the customer is told apart: `@username` when they have one, and the number when known (else the BSUID). */
export const customerHandle = (t: Customer) =>
  [t.username ? `@${t.username}` : null, t.e164 ?? (t.username ? null : t.bsuid)].filter(Boolean).join(' · ');

export const contactName = (t: Customer) => t.profile_name || customerHandle(t);

export function initials(name: string): string {
  const parts = name.replace(/[^\p{L}\p{N} ]/gu, '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '#';
  return (parts[0]![0]! + (parts.length > 1 ? parts.at(-1)![0]! : '')).toUpperCase();
}

/** `+1 555-010-0001` style for digits-only display numbers. */
export function formatNumber(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (value.startsWith('+') && /\s/.test(value)) return value;
  if (digits.length === 11 && digits.startsWith('1')) return `+1 ${digits.slice(1, 4)}-${digits.slice(4, 7)}-${digits.slice(7)}`;
  return `+${digits}`;
}

export function shortTime(iso: string, now = Date.now()): string {
  const date = new Date(iso);
  const sameDay = new Date(now).toDateString() === date.toDateString();
  if (sameDay) return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (now - date.getTime() < 6 * 86_400_000) return date.toLocaleDateString([], { weekday: 'short' });
  return date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

export const clockTime = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * The one time the inbox shows for a message: when the customer sent it (the provider's timestamp)
 * for inbound, when it was queued for outbound. The thread list's time is the same instant.
 */
export const shownTime = (message: Pick<Message, 'provider_timestamp' | 'created_at'>) => message.provider_timestamp ?? message.created_at;

/** Hover text of a message's time: the full sent time and, for inbound, when the hub received it. */
export function timeTitle(message: Pick<Message, 'direction' | 'provider_timestamp' | 'created_at'>): string {
  const full = (iso: string) => new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'medium' });
  if (message.direction === 'inbound' && message.provider_timestamp) return `Sent ${full(message.provider_timestamp)} · received ${full(message.created_at)}`;
  return `${message.direction === 'inbound' ? 'Received' : 'Queued'} ${full(message.created_at)}`;
}

const TYPE_LABELS: Record<string, string> = {
  image: 'Photo', video: 'Video', audio: 'Audio', document: 'Document', sticker: 'Sticker', location: 'Location',
  contacts: 'Contact card', interactive: 'Reply', button: 'Button reply', reaction: 'Reaction', order: 'Order',
  template: 'Template', unsupported: 'Unsupported message', system: 'System message',
};

export function previewText(message: LastMessage | null): string {
  if (!message) return 'No messages yet';
  const body = message.content.body ?? message.content.filename;
  const label = TYPE_LABELS[message.type];
  if (message.type === 'text') return body ?? '';
  if (message.type === 'reaction') return `Reacted ${body ?? ''}`.trim();
  return body ? `${label ?? message.type}: ${body}` : (label ?? message.type);
}

/** "5 h 12 min" */
export function duration(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}
