import type { ReactNode } from 'react';
import type { Message } from '../api';
import { Icon } from './Icon';

type Content = Record<string, unknown>;
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const obj = (value: unknown): Content => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Content) : {});

const MEDIA_NAMES: Record<string, string> = { image: 'Photo', video: 'Video', audio: 'Voice message', document: 'Document', sticker: 'Sticker' };

function Text({ children }: { children: ReactNode }) {
  return <p className="msg-text">{children}</p>;
}

function Media({ message }: { message: Message }) {
  const c = message.content;
  const name = str(c.filename) ?? (c.voice ? 'Voice message' : MEDIA_NAMES[message.type]);
  const href = str(c.link) ?? (message.direction === 'inbound' && str(c.id) ? `/v1/messages/${message.id}/media` : undefined);
  return (
    <div className="msg-media">
      <div className="media-card">
        <span className="media-icon"><Icon name={message.type} /></span>
        <span className="media-info">
          <span className="media-name">{name}</span>
          <span className="media-type">{str(c.mime_type) ?? message.type}</span>
        </span>
        {href && <a className="btn btn-small" href={href} download target="_blank" rel="noreferrer" aria-label={`Download ${name}`}>Download</a>}
      </div>
      {str(c.caption) && <Text>{str(c.caption)}</Text>}
    </div>
  );
}

function Location({ content }: { content: Content }) {
  const lat = Number(content.latitude);
  const lon = Number(content.longitude);
  const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
  return (
    <div className="msg-location">
      <span className="media-icon"><Icon name="location" /></span>
      <span>
        <strong>{str(content.name) ?? 'Shared location'}</strong>
        {str(content.address) && <span className="block muted">{str(content.address)}</span>}
        <a href={map} target="_blank" rel="noreferrer">{lat.toFixed(5)}, {lon.toFixed(5)} — open map</a>
      </span>
    </div>
  );
}

function Contacts({ content }: { content: Content }) {
  const cards = Array.isArray(content.contacts) ? content.contacts.map(obj) : [];
  return (
    <ul className="msg-contacts">
      {cards.map((card, index) => {
        const name = obj(card.name);
        const phones = Array.isArray(card.phones) ? card.phones.map(obj) : [];
        return (
          <li key={index}>
            <span className="media-icon"><Icon name="contact" /></span>
            <span>
              <strong>{str(name.formatted_name) ?? ([str(name.first_name), str(name.last_name)].filter(Boolean).join(' ') || 'Contact')}</strong>
              {phones.map((phone, i) => <span key={i} className="block muted">{str(phone.phone) ?? str(phone.wa_id)}</span>)}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

function Interactive({ content }: { content: Content }) {
  const type = str(content.type);
  if (type === 'button_reply' || type === 'list_reply') {
    const reply = obj(content[type]);
    return (
      <div className="msg-reply">
        <span className="reply-tag">{type === 'button_reply' ? 'Tapped button' : 'Chose from list'}</span>
        <Text>{str(reply.title)}</Text>
        {str(reply.description) && <span className="muted">{str(reply.description)}</span>}
      </div>
    );
  }
  if (type === 'nfm_reply') return <div className="msg-reply"><span className="reply-tag">Flow answered</span><Text>{str(obj(content.nfm_reply).body) ?? 'Form submitted'}</Text></div>;
  // Outbound interactive: body text and its buttons or list.
  const body = str(obj(content.body).text);
  const action = obj(content.action);
  const buttons = Array.isArray(action.buttons) ? action.buttons.map((b) => str(obj(obj(b).reply).title)).filter(Boolean) : [];
  return (
    <div className="msg-reply">
      {body && <Text>{body}</Text>}
      {buttons.length > 0 && <div className="msg-buttons">{buttons.map((title) => <span key={title} className="chip">{title}</span>)}</div>}
      {str(action.button) && <span className="chip">☰ {str(action.button)}</span>}
    </div>
  );
}

function Order({ content }: { content: Content }) {
  const items = Array.isArray(content.product_items) ? content.product_items.map(obj) : [];
  return (
    <div className="msg-order">
      <strong className="with-icon"><Icon name="order" size={18} /> Order · {items.length} item{items.length === 1 ? '' : 's'}</strong>
      <ul>
        {items.map((item, index) => (
          <li key={index}>{String(item.quantity ?? 1)} × {str(item.product_retailer_id) ?? 'item'} {item.item_price !== undefined && <span className="muted">({String(item.item_price)} {str(item.currency) ?? ''})</span>}</li>
        ))}
      </ul>
      {str(content.text) && <Text>{str(content.text)}</Text>}
    </div>
  );
}

/** The body of a message, by type. */
export function MessageContent({ message }: { message: Message }) {
  const c = message.content;
  switch (message.type) {
    case 'text':
      return <Text>{str(c.body) ?? ''}</Text>;
    case 'image': case 'video': case 'audio': case 'document': case 'sticker':
      return <Media message={message} />;
    case 'location':
      return <Location content={c} />;
    case 'contacts':
      return <Contacts content={c} />;
    case 'interactive':
      return <Interactive content={c} />;
    case 'button':
      return <div className="msg-reply"><span className="reply-tag">Tapped button</span><Text>{str(c.text)}</Text></div>;
    case 'order':
      return <Order content={c} />;
    case 'reaction':
      return str(c.emoji)
        ? <p className="msg-text msg-reaction"><span aria-label={`Reaction ${str(c.emoji)}`}>{str(c.emoji)}</span> <span className="muted">reacted to a message</span></p>
        : <p className="msg-note">Removed a reaction</p>;
    case 'template':
      return <div className="msg-reply"><span className="reply-tag">Template</span><Text>{str(c.name)} <span className="muted">({str(obj(c.language).code)})</span></Text></div>;
    case 'system':
      return <p className="msg-note">{str(c.body) ?? 'System notice'}</p>;
    case 'unsupported':
      return (
        <p className="msg-note" role="note">
          Unsupported message{str(c.unsupported_type) ? ` (${str(c.unsupported_type)})` : ''}: WhatsApp did not send its content to the hub. Ask the customer to resend it another way.
        </p>
      );
    default:
      return <p className="msg-note">{message.type} message</p>;
  }
}
