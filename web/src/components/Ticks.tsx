import type { Message } from '../api';

const LABELS: Record<string, string> = {
  queued: 'Queued', sending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', played: 'Played', failed: 'Failed',
};

function Check({ double, className }: { double?: boolean; className?: string }) {
  return (
    <svg className={`tick ${className ?? ''}`} viewBox="0 0 20 12" width="18" height="11" aria-hidden="true">
      <path d="M1 6.5l3.5 3.5L11 2" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
      {double && <path d="M8 9.5l.5.5L15 2" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />}
    </svg>
  );
}

function Clock() {
  return (
    <svg className="tick" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">
      <circle cx="6" cy="6" r="5" fill="none" stroke="currentColor" strokeWidth="1.3" />
      <path d="M6 3v3l2 1.5" fill="none" stroke="currentColor" strokeWidth="1.3" strokeLinecap="round" />
    </svg>
  );
}

/** Delivery state of an outbound message: clock (queued/sending), ✓ sent, ✓✓ delivered, blue ✓✓ read, ⚠ failed. */
export function Ticks({ message }: { message: Message }) {
  const status = message.status;
  const label = LABELS[status] ?? status;
  let icon;
  if (status === 'queued' || status === 'sending') icon = <Clock />;
  else if (status === 'sent') icon = <Check />;
  else if (status === 'delivered') icon = <Check double />;
  else if (status === 'read' || status === 'played') icon = <Check double className="tick-read" />;
  else if (status === 'failed') icon = <span className="tick-failed" aria-hidden="true">!</span>;
  return (
    <span className={`status status-${status}`} data-status={status} role="img" aria-label={label} title={label}>
      {icon}
    </span>
  );
}
