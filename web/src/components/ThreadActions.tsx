import { useState } from 'react';
import { useDisclosure } from './disclosure';
import { ApiError, api, type Operator, type OperatorSummary, operatorName, post, type ThreadDetail } from '../api';

/** Assign, co-writers, close/reopen and block, in an "Actions" menu. */
export function ThreadActions({ thread, operator, operators, onChanged }: {
  thread: ThreadDetail;
  operator: Operator;
  operators: OperatorSummary[];
  onChanged: (detail?: ThreadDetail) => void;
}) {
  const { open, root, onKeyDown, triggerProps, panelProps } = useDisclosure();
  const [error, setError] = useState<string | null>(null);
  const manager = operator.role === 'owner' || operator.role === 'admin';
  const isOwner = thread.owner_operator_id === operator.id;

  const run = async (work: () => Promise<ThreadDetail | void>) => {
    setError(null);
    try {
      const result = await work();
      onChanged(result && 'can_send' in result ? result : undefined);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'Action failed');
    }
  };

  const assign = (operatorId: string | null) => run(() => post(`/v1/threads/${thread.id}/assign`, { operator_id: operatorId }));
  const candidates = operators.filter((o) => o.id !== thread.owner_operator_id && !thread.cowriters.some((c) => c.id === o.id));

  return (
    <div className="actions" ref={root} onKeyDown={onKeyDown}>
      <span className="owner-pill" title="Owner of this conversation">
        {thread.owner ? `Owner: ${thread.owner.id === operator.id ? 'you' : operatorName(thread.owner)}` : 'Unassigned'}
      </span>
      {thread.status === 'closed' && <span className="chip">Closed</span>}
      <button type="button" className="btn" {...triggerProps}>Actions</button>
      {open && (
        <div className="popover popover-right actions-menu" role="group" aria-label="Conversation actions" {...panelProps}>
          {error && <p className="form-error" role="alert">{error}</p>}
          {manager ? (
            <label className="field">
              <span>Assign to</span>
              <select value={thread.owner_operator_id ?? ''} onChange={(e) => void assign(e.target.value || null)}>
                <option value="">Unassigned</option>
                {operators.map((o) => <option key={o.id} value={o.id}>{operatorName(o)}{o.id === operator.id ? ' (you)' : ''}</option>)}
              </select>
            </label>
          ) : thread.owner_operator_id === null ? (
            <button type="button" className="btn btn-block" onClick={() => void assign(operator.id)}>Assign to me</button>
          ) : isOwner ? (
            <button type="button" className="btn btn-block" onClick={() => void assign(null)}>Unassign me</button>
          ) : null}
          <div className="field">
            <span>Co-writers</span>
            <ul className="cowriters">
              {thread.cowriters.length === 0 && <li className="muted">None</li>}
              {thread.cowriters.map((c) => (
                <li key={c.id}>
                  {operatorName(c)}
                  {(manager || isOwner) && (
                    <button type="button" className="btn btn-small btn-ghost" aria-label={`Remove ${operatorName(c)}`}
                      onClick={() => void run(() => api('DELETE', `/v1/threads/${thread.id}/cowriters/${c.id}`))}>Remove</button>
                  )}
                </li>
              ))}
            </ul>
            {(manager || isOwner) && candidates.length > 0 && (
              <label className="field">
                <span className="visually-hidden">Add co-writer</span>
                <select value="" onChange={(e) => { const id = e.target.value; if (id) void run(() => post(`/v1/threads/${thread.id}/cowriters`, { operator_id: id })); }}>
                  <option value="">Add co-writer…</option>
                  {candidates.map((o) => <option key={o.id} value={o.id}>{operatorName(o)}</option>)}
                </select>
              </label>
            )}
          </div>
          <div className="actions-row">
            {thread.status === 'open'
              ? <button type="button" className="btn" onClick={() => void run(() => post(`/v1/threads/${thread.id}/close`))}>Close conversation</button>
              : <button type="button" className="btn" onClick={() => void run(() => post(`/v1/threads/${thread.id}/reopen`))}>Reopen</button>}
            {thread.contact_blocked_at
              ? <button type="button" className="btn" onClick={() => void run(() => post(`/v1/contacts/${thread.contact_id}/unblock`))}>Unblock contact</button>
              : <button type="button" className="btn btn-danger" onClick={() => {
                  if (window.confirm('Block this contact? Nobody can write to them until they are unblocked.')) void run(() => post(`/v1/contacts/${thread.contact_id}/block`, {}));
                }}>Block contact</button>}
          </div>
        </div>
      )}
    </div>
  );
}
