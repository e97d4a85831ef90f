import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { type Message, type Operator, type OperatorSummary, type Page, get, post, query, type ThreadDetail } from '../api';
import { clockTime, contactName, customerHandle, formatNumber, initials, shownTime, timeTitle } from '../format';
import { useCoalesced, useHubEvents } from '../live';
import { focusLost, takeComposerFocus } from '../focus';
import { navigate } from '../router';
import { Composer } from './Composer';
import { MessageContent } from './MessageContent';
import { ThreadActions } from './ThreadActions';
import { Ticks } from './Ticks';
import { WindowState } from './WindowState';

const PAGE_SIZE = 50;

function dayLabel(iso: string): string {
  const date = new Date(iso);
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return 'Today';
  const yesterday = new Date(today.getTime() - 86_400_000);
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return date.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
}

/** Messages to show: read receipts we sent are bookkeeping, not conversation. */
const visible = (message: Message) => message.type !== 'mark_as_read';

export function Conversation({ threadId, operator, operators }: { threadId: string; operator: Operator; operators: OperatorSummary[] }) {
  const [thread, setThread] = useState<ThreadDetail | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [olderCursor, setOlderCursor] = useState<string | null>(null);
  const [pending, setPending] = useState<Message[]>([]);
  const [error, setError] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement | null>(null);
  const stickToBottom = useRef(true);
  const current = useRef(threadId);
  current.current = threadId;

  const loadThread = useCallback(async () => {
    const id = current.current;
    try {
      const detail = await get<ThreadDetail>(`/v1/threads/${id}`);
      if (id === current.current) setThread(detail);
    } catch (caught) {
      if (id === current.current) setError(caught instanceof Error ? caught.message : 'Could not load the conversation');
    }
  }, []);

  /** Reloads the newest messages (as many as are shown), merging with older pages already loaded. */
  const loadMessages = useCallback(async () => {
    const id = current.current;
    const page = await get<Page<Message>>(`/v1/threads/${id}/messages${query({ limit: PAGE_SIZE })}`);
    if (id !== current.current) return;
    setMessages((shown) => {
      const fresh = new Map(page.data.map((m) => [m.id, m]));
      const oldest = page.data.at(-1)?.created_at ?? '';
      const older = shown.filter((m) => !fresh.has(m.id) && m.created_at < oldest);
      return [...page.data.slice().reverse(), ...older.reverse()].sort((a, b) => a.created_at.localeCompare(b.created_at));
    });
    setPending((items) => items.filter((item) => !page.data.some((m) => m.id === item.id)));
    setOlderCursor((cursor) => cursor ?? page.next_cursor);
    void post(`/v1/threads/${id}/read`).catch(() => undefined);
  }, []);

  useEffect(() => {
    setThread(null);
    setMessages([]);
    setPending([]);
    setOlderCursor(null);
    setError(null);
    stickToBottom.current = true;
    void loadThread();
    void loadMessages().catch((caught: unknown) => setError(caught instanceof Error ? caught.message : 'Could not load messages'));
  }, [threadId, loadThread, loadMessages]);

  const loadOlder = async () => {
    if (!olderCursor) return;
    const page = await get<Page<Message>>(`/v1/threads/${threadId}/messages${query({ limit: PAGE_SIZE, cursor: olderCursor })}`);
    stickToBottom.current = false;
    setMessages((shown) => [...page.data.slice().reverse().filter((m) => !shown.some((s) => s.id === m.id)), ...shown]);
    setOlderCursor(page.next_cursor);
    // The last page removes the button: focus moves to the history instead of the page body.
    requestAnimationFrame(() => { if (focusLost()) scroller.current?.focus(); });
  };

  const refresh = useCoalesced(() => {
    void loadMessages().catch(() => undefined);
    void loadThread();
  });
  useHubEvents((event) => {
    const payload = event.data.payload ?? {};
    const target = typeof payload.thread_id === 'string' ? payload.thread_id : undefined;
    // Events name their thread when they can; anything else may concern this one too.
    if (!target || target === current.current) refresh();
  });

  const heading = useRef<HTMLHeadingElement | null>(null);
  useEffect(() => {
    // Opened from the keyboard or at phone width: straight to the message box (or the heading when sending is not allowed).
    if (!thread || !takeComposerFocus(thread.id)) return;
    requestAnimationFrame(() => {
      const box = document.querySelector<HTMLTextAreaElement>('#composer-text');
      if (box && !box.disabled) box.focus();
      else heading.current?.focus();
    });
  }, [thread]);

  const shown = [...messages, ...pending.filter((p) => !messages.some((m) => m.id === p.id))].filter(visible);

  useLayoutEffect(() => {
    const node = scroller.current;
    if (node && stickToBottom.current) node.scrollTop = node.scrollHeight;
  }, [shown.length, thread?.id]);

  const onScroll = () => {
    const node = scroller.current;
    if (node) stickToBottom.current = node.scrollHeight - node.scrollTop - node.clientHeight < 80;
  };

  const onQueued = (message: Message) => {
    stickToBottom.current = true;
    setPending((items) => [...items, message]);
    refresh();
  };

  if (error) return <section className="conversation empty" aria-label="Conversation"><p className="pane-note error" role="alert">{error}</p></section>;
  if (!thread) return <section className="conversation empty" aria-busy="true" aria-label="Conversation"><p className="pane-note">Loading…</p></section>;

  const name = contactName(thread);
  let lastDay = '';
  return (
    <section className="conversation" aria-label={`Conversation with ${name}`}>
      <header className="conv-header">
        <button type="button" className="btn btn-ghost back" onClick={() => navigate('/')} aria-label="Back to conversations">←</button>
        <span className="avatar" aria-hidden="true">{initials(name)}</span>
        <div className="conv-title">
          <h1 ref={heading} tabIndex={-1}>{name}</h1>
          <p className="muted"><span className="nowrap">{customerHandle(thread)}</span> · <span className="nowrap">to {formatNumber(thread.display_phone_number)}</span></p>
        </div>
        <ThreadActions thread={thread} operator={operator} operators={operators} onChanged={(detail) => { if (detail) setThread(detail); else void loadThread(); }} />
      </header>
      <WindowState thread={thread} />
      <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-label="Message history" tabIndex={0}>
        {olderCursor && <div className="load-older"><button type="button" className="btn btn-small" onClick={() => void loadOlder()}>Load earlier messages</button></div>}
        {shown.length === 0 && <p className="pane-note">No messages yet.</p>}
        {shown.map((message) => {
          const day = dayLabel(shownTime(message));
          const divider = day !== lastDay ? <div className="day" role="separator"><span>{day}</span></div> : null;
          lastDay = day;
          return (
            <div key={message.id}>
              {divider}
              <article className={`msg msg-${message.direction} msg-type-${message.type}`} data-message-id={message.id} data-status={message.status}>
                <MessageContent message={message} />
                <footer className="msg-meta">
                  <time dateTime={shownTime(message)} title={timeTitle(message)}>{clockTime(shownTime(message))}</time>
                  {message.direction === 'outbound' && <Ticks message={message} />}
                </footer>
                {message.status === 'failed' && (
                  <p className="msg-error" role="alert">
                    Not delivered{message.error?.code ? ` (${message.error.code})` : ''}: {message.error?.title ?? 'unknown error'}
                  </p>
                )}
              </article>
            </div>
          );
        })}
      </div>
      <Composer thread={thread} manager={operator.role !== 'agent'} onQueued={onQueued} />
    </section>
  );
}
