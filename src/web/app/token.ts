// The hub's token, asked of the user when the hub answers 401; kept for this tab only
// (sessionStorage), never in the URL.
const KEY = 'flowscope.token';
const listeners = new Set<() => void>();
let needed = false;

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  try {
    sessionStorage.setItem(KEY, token.trim());
  } catch {
    // Storage refused (private mode): the token lasts until the page closes.
  }
  needed = false;
  for (const l of listeners) l();
}

/** The hub refused us: ask for a token (again). */
export function requireToken(): void {
  if (needed) return;
  needed = true;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
  for (const l of listeners) l();
}

export function tokenNeeded(): boolean {
  return needed;
}

export function onTokenChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
