// OpenSSL probes follow processes: every libssl.so.3 a process maps, and every executable that
// links OpenSSL statically with its SSL_* symbols present (Node.js), gets uprobes on SSL_read,
// SSL_write and their _ex forms as processes exec; a file's probes are released once no process
// that used it lives (after a grace period: short-lived clients come back). Uprobes belong to the
// file, so one attachment serves every process that maps it.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Link } from '../../bpf/index.js';
import { readCode, readElf } from './elf.js';
import { SSL_FUNCTIONS, planSslSites, type SslFunction, type SslSite } from './ssl-sites.js';
const LIBSSL = /\/libssl\.so\.3$/m;
const OPENSSL_VERSION_TEXT = 'OpenSSL 3.';
/** When to look again at a process that just exec'd: the dynamic loader maps libssl within milliseconds. */
const EXEC_RETRIES_MS = [0, 50, 500];

export interface SslAttacher {
  attachSsl(binary: string, site: SslSite): Link[];
}

interface Target {
  key: string;
  kind: 'libssl' | 'static';
  path: string;
  functions: SslFunction[];
  probes: string[];
  links: Link[];
  pids: Set<number>;
  idleTimer: NodeJS.Timeout | undefined;
  attachedAt: string;
}

export interface OpenSslCapabilities {
  /** functions: the API functions whose calls are seen; probes: where the uprobes are (a name, or a file offset and the functions it covers). */
  attached: Array<{ kind: 'libssl' | 'static'; path: string; functions: string[]; probes: string[]; processes: number }>;
  /** Executables that carry OpenSSL 3's version text but export no SSL_* functions: not traced. */
  staticWithoutSymbols: Array<{ path: string; pid: number; comm: string }>;
  attachErrors: Array<{ path: string; error: string }>;
  released: number;
}

export interface OpenSslOptions {
  selfPid: number;
  /** How long a file's probes stay after the last process using it exits. */
  releaseAfterMs?: number;
  log?: Logger;
}

export class OpenSslProbes {
  private readonly targets = new Map<string, Target>();
  /** Executables already examined (dev:ino): the target key, or null when they have no OpenSSL we can trace. */
  private readonly exes = new Map<string, string | null>();
  private readonly withoutSymbols = new Map<string, { path: string; pid: number; comm: string }>();
  private readonly errors = new Map<string, string>();
  private readonly pidTargets = new Map<number, Set<string>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private released = 0;
  private closed = false;

  constructor(
    private readonly attacher: SslAttacher,
    private readonly options: OpenSslOptions,
  ) {}

  /** Every process running now. */
  scanAll(): void {
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (Number.isInteger(pid) && pid > 0) this.inspect(pid, '');
    }
  }

  /** A process exec'd: look at it now and again while its loader maps libraries. */
  onExec(pid: number, comm: string): void {
    if (this.closed || pid === this.options.selfPid) return;
    for (const delay of EXEC_RETRIES_MS) {
      if (delay === 0) {
        this.inspect(pid, comm);
        continue;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.closed) this.inspect(pid, comm);
      }, delay);
      t.unref();
      this.timers.add(t);
    }
  }

  onExit(pid: number): void {
    const keys = this.pidTargets.get(pid);
    if (!keys) return;
    this.pidTargets.delete(pid);
    for (const key of keys) {
      const t = this.targets.get(key);
      if (!t) continue;
      t.pids.delete(pid);
      if (t.pids.size === 0 && !t.idleTimer) {
        t.idleTimer = setTimeout(() => this.release(key), this.options.releaseAfterMs ?? 30_000);
        t.idleTimer.unref();
      }
    }
  }

  private release(key: string): void {
    const t = this.targets.get(key);
    if (!t || t.pids.size > 0) return;
    for (const l of t.links) {
      try {
        l.destroy();
      } catch {
        // the object's close detaches what is left
      }
    }
    this.targets.delete(key);
    this.released++;
    this.options.log?.info({ path: t.path }, `OpenSSL probes released: ${t.path} (no process uses it)`);
  }

  /** Looks at one process: the libssl files it maps, and its executable's own symbols. */
  inspect(pid: number, comm: string): void {
    if (pid === this.options.selfPid || this.closed) return;
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch {
      return; // gone already, or a kernel thread
    }
    const seen = new Set<string>();
    for (const line of maps.split('\n')) {
      const slash = line.indexOf('/');
      if (slash < 0) continue;
      const path = line.slice(slash);
      if (!LIBSSL.test(path) || seen.has(path)) continue;
      seen.add(path);
      const fields = line.split(/\s+/);
      const key = `${fields[3]}:${fields[4]}`; // dev:inode of the mapped file
      this.use(pid, key, 'libssl', path, `/proc/${pid}/root${path}`);
    }
    this.inspectExe(pid, comm);
  }

  private inspectExe(pid: number, comm: string): void {
    let st;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
      st = statSync(`/proc/${pid}/exe`);
    } catch {
      return;
    }
    const id = `${st.dev}:${st.ino}`;
    let known = this.exes.get(id);
    if (known === undefined) {
      const elf = readElf(`/proc/${pid}/exe`, SSL_FUNCTIONS, OPENSSL_VERSION_TEXT);
      known = null;
      if (elf && elf.functions.has('SSL_read') && elf.functions.has('SSL_write')) {
        known = `exe:${id}`;
      } else if (elf?.rodataHas && !this.mapsLibssl(pid)) {
        this.withoutSymbols.set(id, { path: exe, pid, comm: comm || readComm(pid) });
      }
      this.exes.set(id, known);
    }
    if (known) this.use(pid, known, 'static', exe, `/proc/${pid}/exe`);
  }

  private mapsLibssl(pid: number): boolean {
    try {
      return LIBSSL.test(readFileSync(`/proc/${pid}/maps`, 'latin1'));
    } catch {
      return false;
    }
  }

  private use(pid: number, key: string, kind: Target['kind'], path: string, openPath: string): void {
    let t = this.targets.get(key);
    if (!t) {
      if (this.errors.has(key)) return;
      const attached = this.attach(openPath);
      if ('error' in attached) {
        this.errors.set(key, attached.error);
        this.options.log?.warn({ path, err: attached.error }, `OpenSSL probes could not be attached to ${path}: ${attached.error}`);
        return;
      }
      t = { key, kind, path, functions: attached.functions, probes: attached.probes, links: attached.links, pids: new Set(), idleTimer: undefined, attachedAt: new Date().toISOString() };
      this.targets.set(key, t);
      this.options.log?.info({ path, kind, functions: attached.functions, probes: attached.probes }, `OpenSSL probes attached: ${path}`);
    }
    if (t.idleTimer) {
      clearTimeout(t.idleTimer);
      t.idleTimer = undefined;
    }
    t.pids.add(pid);
    let keys = this.pidTargets.get(pid);
    if (!keys) {
      keys = new Set();
      this.pidTargets.set(pid, keys);
    }
    keys.add(key);
  }

  private attach(openPath: string): { links: Link[]; functions: SslFunction[]; probes: string[] } | { error: string } {
    const elf = readElf(openPath, SSL_FUNCTIONS);
    if (!elf?.functions.has('SSL_read') || !elf.functions.has('SSL_write')) return { error: 'SSL_read/SSL_write not found in its symbols' };
    const sites = planSslSites(elf.functions, (addr, size) => readCode(openPath, addr, size));
    const links: Link[] = [];
    try {
      for (const site of sites) links.push(...this.attacher.attachSsl(openPath, site));
    } catch (err) {
      for (const l of links) l.destroy();
      return { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
    }
    const functions = SSL_FUNCTIONS.filter((f) => sites.some((s) => s.covers.includes(f)));
    const probes = sites.map((s) => ('function' in s.target ? s.target.function : `0x${s.target.offset.toString(16)} (${s.covers.join(', ')})`));
    return { links, functions, probes };
  }

  /** Processes currently counted as using an attached file. */
  get processes(): number {
    return this.pidTargets.size;
  }

  capabilities(): OpenSslCapabilities {
    return {
      attached: [...this.targets.values()].map((t) => ({ kind: t.kind, path: t.path, functions: t.functions, probes: t.probes, processes: t.pids.size })),
      staticWithoutSymbols: [...this.withoutSymbols.values()],
      attachErrors: [...this.errors.entries()].map(([path, error]) => ({ path, error })),
      released: this.released,
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const t of this.targets.values()) {
      if (t.idleTimer) clearTimeout(t.idleTimer);
      for (const l of t.links) {
        try {
          l.destroy();
        } catch {
          // detached with the object
        }
      }
    }
    this.targets.clear();
  }
}

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
