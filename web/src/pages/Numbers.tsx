import { useCallback, useEffect, useState } from 'react';
import { ApiError, get, type Operator, type PhoneNumber, post } from '../api';
import { formatNumber } from '../format';
import { useCoalesced, useHubEvents } from '../live';

interface SignupStart {
  state: string;
  app_id: string;
  graph_api_version: string;
  login_options: Record<string, unknown>;
}

interface SignupResult {
  wabas: Array<{ waba_id: string; phone_numbers: Array<{ phone_number_id: string; display_phone_number: string; created: boolean }> }>;
  pin: string | null;
}

declare global {
  interface Window {
    FB?: {
      init(options: Record<string, unknown>): void;
      login(callback: (response: { authResponse?: { code?: string } }) => void, options: Record<string, unknown>): void;
    };
  }
}

const STATUS_LABELS: Record<PhoneNumber['status'], string> = { active: 'Active', reauth_required: 'Reconnect needed', disconnected: 'Disconnected' };
const randomDigits = (length: number) => Array.from({ length }, (_, i) => (i === 0 ? 1 + Math.floor(Math.random() * 9) : Math.floor(Math.random() * 10))).join('');

/** Sandbox: the simulator plays Meta's popup and issues the signup code for a fresh WABA and number. */
async function sandboxCode(): Promise<{ code: string; wabaId: string }> {
  const wabaId = randomDigits(15);
  const response = await fetch('/simulator/_simulator/signup/codes', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ waba_id: wabaId, phone_numbers: [{ id: randomDigits(15), display_phone_number: `1555${randomDigits(7)}`, verified_name: 'Sandbox Business' }] }),
  });
  if (!response.ok) throw new Error('the simulator did not issue a signup code');
  return { code: ((await response.json()) as { code: string }).code, wabaId };
}

/** Production: Meta's JS SDK runs Embedded Signup in a popup and returns the code. */
async function facebookCode(start: SignupStart): Promise<{ code: string; wabaId?: string }> {
  if (!window.FB) {
    await new Promise<void>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'https://connect.facebook.net/en_US/sdk.js';
      script.async = true;
      script.onload = () => resolve();
      script.onerror = () => reject(new Error('could not load the Facebook SDK'));
      document.head.append(script);
    });
  }
  window.FB!.init({ appId: start.app_id, autoLogAppEvents: true, xfbml: false, version: start.graph_api_version });
  let wabaId: string | undefined;
  const onMessage = (event: MessageEvent) => {
    if (!String(event.origin).endsWith('facebook.com')) return;
    try {
      const data = JSON.parse(String(event.data)) as { type?: string; data?: { waba_id?: string } };
      if (data.type === 'WA_EMBEDDED_SIGNUP' && data.data?.waba_id) wabaId = data.data.waba_id;
    } catch {
      // not a signup event
    }
  };
  window.addEventListener('message', onMessage);
  try {
    const code = await new Promise<string>((resolve, reject) => {
      window.FB!.login((response) => (response.authResponse?.code ? resolve(response.authResponse.code) : reject(new Error('signup cancelled'))), start.login_options);
    });
    return { code, wabaId };
  } finally {
    window.removeEventListener('message', onMessage);
  }
}

export function NumbersPage({ operator, sandbox }: { operator: Operator; sandbox: boolean }) {
  const [numbers, setNumbers] = useState<PhoneNumber[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const manager = operator.role === 'owner' || operator.role === 'admin';

  const load = useCallback(async () => {
    try {
      setNumbers((await get<{ data: PhoneNumber[] }>('/v1/phone-numbers')).data);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not load numbers');
    }
  }, []);
  useEffect(() => void load(), [load]);
  const refresh = useCoalesced(() => void load(), 300);
  useHubEvents(refresh);

  const connect = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const start = await post<SignupStart>('/v1/whatsapp/signup/start');
      const { code, wabaId } = sandbox ? await sandboxCode() : await facebookCode(start);
      const result = await post<SignupResult>('/v1/whatsapp/signup/complete', { code, state: start.state, ...(wabaId ? { waba_id: wabaId } : {}) });
      const connected = result.wabas.flatMap((w) => w.phone_numbers.map((n) => formatNumber(n.display_phone_number)));
      setNotice(`Connected ${connected.join(', ')}.${result.pin ? ` Two-step verification PIN: ${result.pin} (shown once).` : ''}`);
      await load();
    } catch (caught) {
      setError(caught instanceof ApiError || caught instanceof Error ? caught.message : 'Connecting failed');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Phone numbers</h1>
          <p className="muted">WhatsApp Business numbers of your organization{sandbox ? ' (sandbox: Meta is simulated)' : ''}.</p>
        </div>
        {manager && <button type="button" className="btn btn-primary" onClick={() => void connect()} disabled={busy}>{busy ? 'Connecting…' : 'Connect WhatsApp'}</button>}
      </div>
      {notice && <p className="notice" role="status">{notice}</p>}
      {error && <p className="form-error" role="alert">{error}</p>}
      {numbers === null ? <p className="pane-note">Loading…</p> : numbers.length === 0 ? <p className="pane-note">No numbers yet.</p> : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Phone numbers</caption>
            <thead>
              <tr><th scope="col">Number</th><th scope="col">Status</th><th scope="col">Quality</th><th scope="col">Throughput</th><th scope="col">Queue</th><th scope="col">WABA</th></tr>
            </thead>
            <tbody>
              {numbers.map((n) => (
                <tr key={n.id} data-phone-number-id={n.phone_number_id}>
                  <td data-label="Number">
                    <strong>{formatNumber(n.display_phone_number)}</strong>
                    <span className="block muted">{n.verified_name ?? '—'} · {n.provider}</span>
                  </td>
                  <td data-label="Status"><span className={`pill pill-${n.status}`}>{STATUS_LABELS[n.status]}</span></td>
                  <td data-label="Quality">
                    <span className={`quality quality-${(n.quality_rating ?? 'unknown').toLowerCase()}`}>
                      <span className="quality-dot" aria-hidden="true" />{n.quality_rating ?? 'Unknown'}
                    </span>
                  </td>
                  <td data-label="Throughput">{n.throughput_mps} msg/s<span className="block muted">{n.messaging_limit_tier ? `Tier ${n.messaging_limit_tier}` : 'Tier unknown'}</span></td>
                  <td data-label="Queue"><span className={n.queue_depth > 0 ? 'strong' : 'muted'}>{n.queue_depth}</span></td>
                  <td data-label="WABA">
                    {n.waba_id ? <code>{n.waba_id}</code> : <span>Twilio</span>}
                    <span className="block muted">ID {n.phone_number_id}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
