/**
 * Shown when a call came back `unauthenticated`: asks for the client token,
 * keeps it in sessionStorage, and reloads the page's data.
 */
import { useState } from 'preact/hooks';
import { setToken, token } from '../api/auth';

export function TokenPrompt({ message, onSaved }: { message: string; onSaved: () => void }) {
  const [value, setValue] = useState(token());
  const save = (e: Event): void => {
    e.preventDefault();
    setToken(value.trim());
    onSaved();
  };
  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-label="Client token">
        <form onSubmit={save}>
        <h3>Client token</h3>
        <p>The Sentinel asks for a client token{message ? ` (${message})` : ''}. It is kept in this tab only (sessionStorage).</p>
        <label class="field">
          Token
          <input type="password" name="token" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">
            Use token
          </button>
        </div>
        </form>
      </div>
    </div>
  );
}
