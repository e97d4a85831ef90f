import { useCallback, useEffect, useState } from 'react';
import { type DeadLetter, type EventSubscription, get, type Metrics, type Operator } from '../api';
import { SubscriptionHealth } from '../components/SubscriptionHealth';

const FIGURES: Array<{ key: string; label: string; hint: string; unit?: string; warn?: (v: number) => boolean }> = [
  { key: 'activeAccounts', label: 'Active numbers', hint: 'numbers sending now' },
  { key: 'queuedCount', label: 'Queued', hint: 'messages waiting to send', warn: (v) => v > 1000 },
  { key: 'processingCount', label: 'In flight', hint: 'claimed by a worker' },
  { key: 'parkedCount', label: 'Parked', hint: 'waiting for a reconnect', warn: (v) => v > 0 },
  { key: 'sentLast5m', label: 'Sent (5 min)', hint: 'accepted by WhatsApp' },
  { key: 'failedLast5m', label: 'Failed (5 min)', hint: 'refused or gave up', warn: (v) => v > 0 },
  { key: 'reconnectCount', label: 'Need reconnect', hint: 'numbers with an expired token', warn: (v) => v > 0 },
  { key: 'outboxLagSeconds', label: 'Outbox lag', hint: 'oldest due message', unit: 's', warn: (v) => v > 5 },
  { key: 'relayLagSeconds', label: 'Event relay lag', hint: 'oldest unpublished event', unit: 's', warn: (v) => v > 5 },
];

export function OpsPage({ operator }: { operator: Operator }) {
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [subscriptions, setSubscriptions] = useState<EventSubscription[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const manager = operator.role === 'owner' || operator.role === 'admin';

  const load = useCallback(async () => {
    try {
      const [m, d, s] = await Promise.all([
        get<Metrics>('/metrics-json'),
        manager ? get<{ data: DeadLetter[] }>('/v1/dead-letters?limit=50').then((r) => r.data) : Promise.resolve(null),
        manager ? get<{ data: EventSubscription[] }>('/v1/event-subscriptions').then((r) => r.data) : Promise.resolve(null),
      ]);
      setMetrics(m);
      setLetters(d);
      setSubscriptions(s);
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not load figures');
    }
  }, [manager]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 5_000);
    return () => clearInterval(timer);
  }, [load]);

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Operations</h1>
          <p className="muted">Hub figures, refreshed every 5 seconds{metrics ? ` · as of ${new Date(String(metrics.generatedAt)).toLocaleTimeString()}` : ''}.</p>
        </div>
      </div>
      {error && <p className="form-error" role="alert">{error}</p>}
      <ul className="cards" aria-label="Figures">
        {FIGURES.map((figure) => {
          const value = metrics ? Number(metrics[figure.key] ?? 0) : null;
          const warn = value !== null && figure.warn?.(value);
          return (
            <li key={figure.key} className={`card${warn ? ' card-warn' : ''}`} data-figure={figure.key}>
              <span className="card-label">{figure.label}</span>
              <span className="card-value">{value === null ? '—' : `${value}${figure.unit ?? ''}`}</span>
              <span className="card-hint">{figure.hint}</span>
            </li>
          );
        })}
      </ul>
      <h2>Event subscriptions</h2>
      <p className="muted">Deliveries of domain events to your webhooks: waiting, retrying after a failure, or dead-lettered after 24 hours of failures.</p>
      {!manager ? <p className="pane-note">Only owners and admins see event subscriptions.</p> : subscriptions === null ? <p className="pane-note">Loading…</p> : <SubscriptionHealth subscriptions={subscriptions} />}
      <h2>Dead letters</h2>
      <p className="muted">Webhook items the hub kept because it could not process them (nothing is dropped).</p>
      {!manager ? <p className="pane-note">Only owners and admins see dead letters.</p> : letters === null ? <p className="pane-note">Loading…</p> : letters.length === 0 ? (
        <p className="pane-note">None. Every webhook item was processed.</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Dead letters</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Reason</th><th scope="col">Detail</th><th scope="col">Where</th></tr></thead>
            <tbody>
              {letters.map((letter) => (
                <tr key={letter.id}>
                  <td data-label="When">{new Date(letter.created_at).toLocaleString()}</td>
                  <td data-label="Reason"><code>{letter.reason}</code></td>
                  <td data-label="Detail">{letter.detail}</td>
                  <td data-label="Where" className="muted">{[letter.provider, letter.field, letter.phone_number_id].filter(Boolean).join(' · ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
