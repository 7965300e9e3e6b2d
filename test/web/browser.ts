// Debian's Chromium driven by playwright-core: headless, no network beyond this machine, a fresh
// profile per launch. Pages report what went wrong in them (script errors, CSP violations,
// dialogs), and screenshots go under test-output/web/.
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoPath } from '../../src/lib/paths.js';
import type { DrawnElement, FlowscopeDebug } from '../../src/web/logic/debug-types.js';

export const CHROMIUM = process.env.FLOWSCOPE_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = repoPath('test-output/web');

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (scripts/setup.sh --test installs Debian's chromium)`;
}

export async function launch(viewport = { width: 1400, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'fs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What a page did that it should not have: script errors, CSP violations, dialogs, failed requests to elsewhere. */
export interface PageTrouble {
  errors: string[];
  cspViolations: string[];
  dialogs: string[];
}

export async function watchPage(page: Page): Promise<PageTrouble> {
  const trouble: PageTrouble = { errors: [], cspViolations: [], dialogs: [] };
  page.on('pageerror', (err) => trouble.errors.push(String(err)));
  page.on('dialog', (d) => {
    trouble.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) trouble.cspViolations.push(m.text());
  });
  await page.exposeFunction('__flowscopeCsp', (v: string) => trouble.cspViolations.push(v));
  await page.addInitScript(() => {
    const g = globalThis as unknown as PageGlobals;
    g.document.addEventListener('securitypolicyviolation', (e) => g.__flowscopeCsp(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  return trouble;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  console.log(`# screenshot: ${path}`);
  return path;
}

/** Waits until the map has drawn its latest placement (window.flowscope.status.ready). */
export async function mapReady(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const f = (globalThis as unknown as PageGlobals).flowscope;
      return f?.status.ready === true && !f.status.busy && f.status.rendered === f.status.generation;
    },
    undefined,
    { timeout: timeoutMs },
  );
}

/** Runs `action` and waits until the map has drawn a newer placement than before it. */
export async function afterUpdate(page: Page, action: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  const before = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope?.status.generation ?? 0);
  await action();
  await page.waitForFunction(
    (gen) => {
      const f = (globalThis as unknown as PageGlobals).flowscope;
      return f !== undefined && f.status.generation > gen && f.status.ready && !f.status.busy && f.status.rendered === f.status.generation;
    },
    before,
    { timeout: timeoutMs },
  );
}

/** Waits until the drawn graph answers a request that contains `text` (e.g. 'neighbourhood of X within 2'). */
export async function drawnFor(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const f = (globalThis as unknown as PageGlobals).flowscope;
      return f !== undefined && f.status.query.includes(t) && f.status.ready && !f.status.busy && f.status.rendered === f.status.generation;
    },
    text,
    { timeout: timeoutMs },
  );
}

export type Drawn = DrawnElement;

export async function drawn(page: Page): Promise<Drawn[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.elements());
}

/** What the tests read of the page inside page.evaluate (the test build has no DOM types). */
export interface PageGlobals {
  flowscope?: FlowscopeDebug;
  document: { addEventListener(type: string, listener: (e: { violatedDirective: string; blockedURI: string }) => void): void };
  __flowscopeCsp(v: string): void;
}

