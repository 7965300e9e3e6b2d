// The hub wants a token: ask for it (a password field; kept for this tab only, never in the URL).
import { useEffect, useRef, useState } from 'react';
import { setToken } from './token.js';

export function TokenDialog() {
  const [text, setText] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <div className="modal-backdrop">
      <form
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby="token-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) setToken(text);
        }}
      >
        <h2 id="token-title">This hub needs its token</h2>
        <p>The hub was started with --token-file. Paste that token to read the map; it is kept for this tab only.</p>
        <label>
          Token <input ref={input} type="password" autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" disabled={!text.trim()}>
          Continue
        </button>
      </form>
    </div>
  );
}
