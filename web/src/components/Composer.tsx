import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { ApiError, get, type Message, post, type QuickReply, type ThreadDetail } from '../api';
import { useDisclosure } from './disclosure';

interface Queued {
  id: string;
  status: 'queued';
  thread_id: string;
}

const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

function SaveQuickReply({ body, onSaved }: { body: string; onSaved: () => void }) {
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await post('/v1/quick-replies', { title: title.trim(), body });
      setTitle('');
      onSaved();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'Could not save');
    }
  };
  return (
    <form className="quick-save" onSubmit={(e) => void save(e)}>
      <label className="field">
        <span>Save the message as a quick reply</span>
        <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Title" maxLength={60} required />
      </label>
      {error && <p className="form-error" role="alert">{error}</p>}
      <button type="submit" className="btn btn-small">Save</button>
    </form>
  );
}

function QuickReplies({ onPick, draft, manager }: { onPick: (body: string) => void; draft: string; manager: boolean }) {
  const [items, setItems] = useState<QuickReply[] | null>(null);
  const { open, close, root, onKeyDown, triggerProps, panelProps } = useDisclosure(items);

  useEffect(() => {
    if (open && items === null) get<{ data: QuickReply[] }>('/v1/quick-replies').then((r) => setItems(r.data), () => setItems([]));
  }, [open, items]);

  return (
    <div className="popover-anchor" ref={root} onKeyDown={onKeyDown}>
      <button type="button" className="btn btn-ghost" aria-label="Quick replies" title="Quick replies" {...triggerProps}>
        <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><path d="M9 1L3 9h4l-1 6 6-8H8l1-6z" fill="currentColor" /></svg>
        <span className="qr-text">Quick replies</span>
      </button>
      {open && (
        <div className="popover" role="group" aria-label="Quick replies" {...panelProps}>
          {items === null && <p className="pane-note">Loading…</p>}
          {items?.length === 0 && <p className="pane-note">No quick replies yet.{manager ? ' Type a message, then save it here.' : ' Owners and admins can add them.'}</p>}
          {items?.map((item) => (
            <button key={item.id} type="button" className="popover-item" onClick={() => { onPick(item.body); close(false); }}>
              <strong>{item.title}</strong>
              <span className="muted">{item.body}</span>
            </button>
          ))}
          {manager && draft.trim() !== '' && <SaveQuickReply body={draft.trim()} onSaved={() => setItems(null)} />}
        </div>
      )}
    </div>
  );
}

function TemplatePicker({ disabled, onSend }: { disabled: boolean; onSend: (name: string, language: string) => Promise<void> }) {
  const [name, setName] = useState('hello_world');
  const [language, setLanguage] = useState('en_US');
  return (
    <form className="template-picker" onSubmit={(e) => { e.preventDefault(); void onSend(name.trim(), language.trim()); }}>
      <label className="field field-inline">
        <span>Template</span>
        <input list="known-templates" value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9_]+" disabled={disabled} />
        <datalist id="known-templates"><option value="hello_world" /></datalist>
      </label>
      <label className="field field-inline">
        <span>Language</span>
        <input value={language} onChange={(e) => setLanguage(e.target.value)} required pattern="[a-z]{2,3}(_[A-Z]{2})?" size={6} disabled={disabled} />
      </label>
      <button type="submit" className="btn btn-primary" disabled={disabled}>Send template</button>
    </form>
  );
}

/** The message composer: text inside the customer service window, a template picker outside it. */
export function Composer({ thread, manager, onQueued }: { thread: ThreadDetail; manager: boolean; onQueued: (message: Message) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const windowOpen = thread.customer_service_window_expires_at !== null && new Date(thread.customer_service_window_expires_at).getTime() > Date.now();
  const blocked = thread.contact_blocked_at !== null;
  const disabled = !thread.can_send || busy;

  useEffect(() => setError(null), [thread.id]);

  const send = async (body: Record<string, unknown>, content: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const queued = await post<Queued>('/v1/messages', { thread_id: thread.id, ...body }, { 'idempotency-key': newKey() });
      onQueued({
        id: queued.id, thread_id: thread.id, direction: 'outbound', type: String(body.type), status: 'queued',
        provider_message_id: null, content, error: null, created_at: new Date().toISOString(),
      });
      return true;
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'Sending failed');
      return false;
    } finally {
      setBusy(false);
    }
  };

  const sendText = async (event?: FormEvent) => {
    event?.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (await send({ type: 'text', text: { body } }, { body })) {
      setText('');
      input.current?.focus();
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void sendText();
    }
  };

  const note = blocked
    ? 'This contact is blocked. Unblock it to write.'
    : !thread.can_send
      ? 'You are neither the owner nor a co-writer of this conversation, so you cannot send here. Ask its owner or an admin to add you.'
      : null;

  return (
    <div className="composer">
      {note && <p className="composer-note" role="note">{note}</p>}
      {error && <p className="form-error" role="alert">{error}</p>}
      {windowOpen ? (
        <div className="composer-row">
          <QuickReplies draft={text} manager={manager} onPick={(body) => { setText(body); input.current?.focus(); }} />
          <form className="composer-form" onSubmit={(e) => void sendText(e)}>
            <label className="visually-hidden" htmlFor="composer-text">Message</label>
            <textarea
              id="composer-text" ref={input} rows={1} placeholder={disabled ? 'You cannot send in this conversation' : 'Type a message'}
              value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} disabled={!thread.can_send} maxLength={4096}
            />
            <button type="submit" className="btn btn-primary" disabled={disabled || text.trim() === ''}>Send</button>
          </form>
        </div>
      ) : (
        <TemplatePicker
          disabled={disabled}
          onSend={async (name, language) => { await send({ type: 'template', template: { name, language: { code: language } } }, { name, language: { code: language } }); }}
        />
      )}
    </div>
  );
}
