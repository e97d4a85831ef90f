import { useEffect, useState } from 'react';
import { get, type Operator, type OperatorSummary } from '../api';
import { Conversation } from '../components/Conversation';
import { ThreadList } from '../components/ThreadList';

export function InboxPage({ operator, threadId }: { operator: Operator; threadId: string | null }) {
  const [operators, setOperators] = useState<OperatorSummary[]>([]);
  useEffect(() => {
    get<{ data: OperatorSummary[] }>('/v1/operators').then((r) => setOperators(r.data), () => undefined);
  }, []);
  return (
    <div className={`inbox${threadId ? ' has-thread' : ''}`}>
      <ThreadList selectedId={threadId} meId={operator.id} />
      {threadId
        ? <Conversation key={threadId} threadId={threadId} operator={operator} operators={operators} />
        : (
          <section className="conversation empty" aria-label="Conversation">
            <div className="empty-state">
              <svg className="empty-icon" viewBox="0 0 48 48" width="56" height="56" aria-hidden="true">
                <path d="M8 10h32a4 4 0 0 1 4 4v16a4 4 0 0 1-4 4H20l-8 7v-7H8a4 4 0 0 1-4-4V14a4 4 0 0 1 4-4z" fill="#ccfbf1" stroke="#0f766e" strokeWidth="2" strokeLinejoin="round" />
                <path d="M14 20h20M14 26h12" stroke="#0f766e" strokeWidth="2" strokeLinecap="round" />
              </svg>
              <h2>Select a conversation</h2>
              <p className="muted">New messages appear here live. In the list, ↑ ↓ Home End move and Enter opens a conversation at its message box.</p>
            </div>
          </section>
        )}
    </div>
  );
}
