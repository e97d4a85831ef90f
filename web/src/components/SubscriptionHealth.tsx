import type { EventSubscription } from '../api';

/** "Healthy", "Retrying" or "Dead letters": the worst of a subscription's undelivered deliveries. */
function verdict(health: EventSubscription['deliveries']): { label: string; className: string } {
  if (health.dead > 0) return { label: 'Dead letters', className: 'pill-failing' };
  if (health.retrying > 0) return { label: 'Retrying', className: 'pill-reauth_required' };
  return { label: 'Healthy', className: 'pill-active' };
}

/** The ops page's table of event subscriptions: what each still has to deliver, and why it fails. */
export function SubscriptionHealth({ subscriptions }: { subscriptions: EventSubscription[] }) {
  if (subscriptions.length === 0) return <p className="pane-note">No event subscriptions (POST /v1/event-subscriptions adds one).</p>;
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">Event subscriptions</caption>
        <thead>
          <tr><th scope="col">Endpoint</th><th scope="col">Health</th><th scope="col">Waiting</th><th scope="col">Retrying</th><th scope="col">Dead</th><th scope="col">Newest error</th></tr>
        </thead>
        <tbody>
          {subscriptions.map((subscription) => {
            const health = subscription.deliveries;
            const { label, className } = verdict(health);
            return (
              <tr key={subscription.id} data-subscription-id={subscription.id}>
                <td data-label="Endpoint"><code>{subscription.url}</code></td>
                <td data-label="Health"><span className={`pill ${className}`}>{label}</span></td>
                <td data-label="Waiting">{health.waiting}</td>
                <td data-label="Retrying">{health.retrying}</td>
                <td data-label="Dead">{health.dead}</td>
                <td data-label="Newest error">
                  {health.last_error ?? '—'}
                  {health.oldest_pending_at && <span className="muted"> · oldest waiting since {new Date(health.oldest_pending_at).toLocaleString()}</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
