import { useCallback, useEffect, useRef, useState } from 'react';
import { get, operatorName, type Page, query, type Thread } from '../api';
import { contactName, formatNumber, initials, previewText, shortTime } from '../format';
import { useCoalesced, useHubEvents } from '../live';
import { focusComposerOnOpen, focusLost } from '../focus';
import { navigate } from '../router';

type Assignee = 'all' | 'me' | 'unassigned';
type Status = 'open' | 'closed' | 'all';

const ASSIGNEE_TABS: Array<{ value: Assignee; label: string }> = [
  { value: 'me', label: 'Mine' },
  { value: 'unassigned', label: 'Unassigned' },
  { value: 'all', label: 'All' },
];

const PAGE_SIZE = 30;

export function ThreadList({ selectedId, meId }: { selectedId: string | null; meId: string }) {
  const [assignee, setAssignee] = useState<Assignee>('all');
  const [status, setStatus] = useState<Status>('open');
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  const [threads, setThreads] = useState<Thread[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const sentinel = useRef<HTMLLIElement | null>(null);
  const generation = useRef(0);

  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);

  const filters = { assignee, status, q: debounced };
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  /** Reloads the first page(s): as many rows as are shown, so live updates do not shrink the list. */
  const reload = useCallback(async (keep = PAGE_SIZE) => {
    const mine = ++generation.current;
    try {
      const page = await get<Page<Thread>>(`/v1/threads${query({ ...filtersRef.current, limit: Math.min(100, Math.max(PAGE_SIZE, keep)) })}`);
      if (mine !== generation.current) return;
      setThreads(page.data);
      setCursor(page.next_cursor);
      setError(null);
    } catch (caught) {
      if (mine === generation.current) setError(caught instanceof Error ? caught.message : 'Could not load threads');
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    void reload();
  }, [assignee, status, debounced, reload]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    const mine = generation.current;
    const page = await get<Page<Thread>>(`/v1/threads${query({ ...filtersRef.current, limit: PAGE_SIZE, cursor })}`);
    if (mine !== generation.current) return;
    setThreads((current) => [...current, ...page.data.filter((t) => !current.some((c) => c.id === t.id))]);
    setCursor(page.next_cursor);
  }, [cursor]);

  useEffect(() => {
    const node = sentinel.current;
    if (!node || !cursor) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void loadMore();
    }, { rootMargin: '200px' });
    observer.observe(node);
    return () => observer.disconnect();
  }, [cursor, loadMore]);

  const threadsRef = useRef(threads);
  threadsRef.current = threads;
  const refresh = useCoalesced(() => void reload(threadsRef.current.length));
  useHubEvents(refresh);
  useEffect(() => {
    // Opening a thread marks it read: its unread badge goes.
    if (selectedId) setThreads((current) => current.map((t) => (t.id === selectedId ? { ...t, unread_count: 0 } : t)));
  }, [selectedId]);

  // Roving focus: the list is one Tab stop (the focused row, else the open one, else the first);
  // ↑/↓/Home/End move within it, Enter opens a row and moves to its message box.
  const [focusId, setFocusId] = useState<string | null>(null);
  const tabStopId = [focusId, selectedId].find((id) => id && threads.some((t) => t.id === id)) ?? threads[0]?.id;
  const list = useRef<HTMLUListElement | null>(null);
  const previousSelected = useRef(selectedId);
  useEffect(() => {
    // Back from a conversation (phone width: the list reappears): focus returns to its row.
    const closed = previousSelected.current;
    previousSelected.current = selectedId;
    if (closed && !selectedId && focusLost()) list.current?.querySelector<HTMLElement>(`[data-thread-id="${closed}"]`)?.focus();
  }, [selectedId]);
  const onKeyDown = (event: React.KeyboardEvent<HTMLUListElement>) => {
    const links = Array.from(event.currentTarget.querySelectorAll<HTMLAnchorElement>('a.thread-item'));
    const index = links.indexOf(document.activeElement as HTMLAnchorElement);
    const target = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: links.length - 1 }[event.key];
    if (target === undefined) return;
    const next = links[Math.max(0, Math.min(links.length - 1, target))];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  };
  const open = (event: React.MouseEvent<HTMLAnchorElement>, id: string) => {
    event.preventDefault();
    // detail 0: activated from the keyboard. At phone width the list is about to hide.
    if (event.detail === 0 || window.matchMedia('(max-width: 760px)').matches) focusComposerOnOpen(id);
    navigate(`/threads/${id}`);
  };

  return (
    <section className="thread-pane" aria-label="Conversations">
      <h1 className="visually-hidden">Inbox</h1>
      <div className="thread-filters">
        <div className="segmented" role="group" aria-label="Assigned to">
          {ASSIGNEE_TABS.map((tab) => (
            <button key={tab.value} type="button" aria-pressed={assignee === tab.value} onClick={() => setAssignee(tab.value)}>{tab.label}</button>
          ))}
        </div>
        <div className="filter-row">
          <label className="visually-hidden" htmlFor="thread-search">Search by name or number</label>
          <input id="thread-search" type="search" placeholder="Search name or number" value={search} onChange={(e) => setSearch(e.target.value)} />
          <label className="visually-hidden" htmlFor="thread-status">Status</label>
          <select id="thread-status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
            <option value="open">Open</option>
            <option value="closed">Closed</option>
            <option value="all">All</option>
          </select>
        </div>
      </div>
      {error && <p className="pane-note error" role="alert">{error}</p>}
      {!loading && !error && threads.length === 0 && <p className="pane-note">No conversations here.</p>}
      <ul className="thread-list" ref={list} onKeyDown={onKeyDown} aria-busy={loading} aria-label="Conversations: ↑ ↓ Home End to move, Enter to open">
        {threads.map((thread) => {
          const name = contactName(thread);
          const unread = thread.unread_count > 0 && thread.id !== selectedId;
          return (
            <li key={thread.id}>
              <a
                className={`thread-item${thread.id === selectedId ? ' selected' : ''}${unread ? ' unread' : ''}`}
                href={`/threads/${thread.id}`}
                aria-current={thread.id === selectedId ? 'true' : undefined}
                data-thread-id={thread.id}
                tabIndex={thread.id === tabStopId ? 0 : -1}
                onFocus={() => setFocusId(thread.id)}
                onClick={(e) => open(e, thread.id)}
              >
                <span className="avatar" aria-hidden="true">{initials(name)}</span>
                <span className="thread-main">
                  <span className="thread-top">
                    <span className="thread-name">{name}</span>
                    <time className="thread-time" dateTime={thread.last_message_at}>{shortTime(thread.last_message_at)}</time>
                  </span>
                  <span className="thread-preview">
                    {thread.last_message?.direction === 'outbound' && <span className="you">You: </span>}
                    {previewText(thread.last_message)}
                  </span>
                  <span className="thread-meta">
                    <span title="Business number">{formatNumber(thread.display_phone_number)}</span>
                    <span aria-hidden="true">·</span>
                    <span className={thread.owner ? '' : 'muted'}>
                      {thread.owner ? (thread.owner.id === meId ? 'You' : operatorName(thread.owner)) : 'Unassigned'}
                    </span>
                    {thread.status === 'closed' && <span className="chip">Closed</span>}
                    {thread.contact_blocked_at && <span className="chip chip-danger">Blocked</span>}
                  </span>
                </span>
                {unread && (
                  <span className="badge" aria-label={`${thread.unread_count} unread`}>{thread.unread_count >= 100 ? '99+' : thread.unread_count}</span>
                )}
              </a>
            </li>
          );
        })}
        {cursor && <li ref={sentinel} className="pane-note" aria-hidden="true">Loading more…</li>}
      </ul>
    </section>
  );
}
