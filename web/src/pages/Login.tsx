import { type FormEvent, useState } from 'react';
import { ApiError, get, type Operator, post } from '../api';

export function LoginPage({ onLoggedIn }: { onLoggedIn: (info: { operator: Operator; sandbox: boolean }) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post('/v1/session', { email: email.trim(), password });
      onLoggedIn(await get('/v1/session'));
    } catch (caught) {
      setError(caught instanceof ApiError && caught.status === 401 ? 'Wrong email or password.' : caught instanceof Error ? caught.message : 'Login failed.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <div className="login-brand" aria-hidden="true"><span className="brand-mark">wa</span><span className="brand-name">hub</span></div>
        <h1 id="login-title">Sign in to the inbox</h1>
        <label className="field">
          <span>Email</span>
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        </label>
        <label className="field">
          <span>Password</span>
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p className="login-hint">In sandbox mode, <code>npm start</code> prints the demo login.</p>
      </form>
    </main>
  );
}
