// The UI's map at scale, in headless Chromium (Debian's, --disable-gpu: software rendering):
// time to first render, time to expand a group, and frames per second while panning, for synthetic
// clusters of 500, 2,000 and 10,000 workloads (5 edges each) sent to a real hub.
//
//   node dist/bench/ui-map.js [rounds=3] [sizes=500,2000,10000] [budget]
//
// Each size gets its own hub; each round a fresh page (a new profile per size). Medians with the
// range over rounds. With a budget (e.g. 100000) nothing collapses: the cost of drawing everything.
import { startTestHub } from '../test/hub/support.js';
import { repoPath } from '../src/lib/paths.js';
import { afterUpdate, launch, mapReady, type PageGlobals } from '../test/web/browser.js';
import { sendToHub, syntheticCluster, syntheticMessages } from '../test/web/synthetic.js';
import type { Page } from 'playwright-core';

const rounds = Number(process.argv[2] ?? 3);
const sizes = (process.argv[3] ?? '500,2000,10000').split(',').map(Number);
const budget = process.argv[4] ? Number(process.argv[4]) : undefined;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]): string => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;

interface Round {
  firstRenderMs: number;
  layoutMs: number;
  groupMs: number;
  drawn: number;
  expandMs: number;
  panFps: number;
  longestTaskMs: number;
}

async function measures(page: Page, name: string): Promise<number[]> {
  return page.evaluate((n) => (globalThis as unknown as { performance: { getEntriesByName(n: string): Array<{ duration: number }> } }).performance.getEntriesByName(n).map((e) => e.duration), name);
}

/** Drags the map around for `ms`, counting the frames it draws. */
async function panFps(page: Page, ms: number): Promise<number> {
  const box = (await page.locator('.map').boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  // Start the drag on empty canvas: a corner of the map, away from nodes (the layout is centred).
  await page.mouse.move(box.x + 8, box.y + box.height - 40);
  await page.mouse.down();
  const f0 = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.frames());
  const started = Date.now();
  let i = 0;
  while (Date.now() - started < ms) {
    const a = (i++ / 30) * Math.PI;
    await page.mouse.move(cx + Math.cos(a) * 150 - box.width / 2 + 8, cy + Math.sin(a) * 100 + box.height / 2 - 40);
  }
  const elapsed = Date.now() - started;
  const f1 = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.frames());
  await page.mouse.up();
  return ((f1 - f0) * 1000) / elapsed;
}

async function oneRound(url: string): Promise<Round> {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const g = globalThis as unknown as { __longTasks: number[]; PerformanceObserver: new (cb: (l: { getEntries(): Array<{ duration: number }> }) => void) => { observe(o: object): void } };
      g.__longTasks = [];
      new g.PerformanceObserver((list) => {
        for (const e of list.getEntries()) g.__longTasks.push(e.duration);
      }).observe({ entryTypes: ['longtask'] });
    });
    const started = Date.now();
    await page.goto(url);
    await mapReady(page, 600_000);
    const firstRenderMs = Date.now() - started;
    const layoutMs = (await measures(page, 'flowscope:layout')).reduce((s, x) => s + x, 0);
    const groupMs = (await measures(page, 'flowscope:group')).reduce((s, x) => s + x, 0);
    const els = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.elements());
    const longestTaskMs = Math.max(0, ...(await page.evaluate(() => (globalThis as unknown as { __longTasks: number[] }).__longTasks)));
    const fps = await panFps(page, 4000);
    // Expand the largest collapsed group in sight (a namespace, or a zone when those are collapsed).
    let expandMs = NaN;
    const box = (await page.locator('.map').boundingBox())!;
    const vp = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.viewport());
    const at = (e: { x: number; y: number }) => ({ x: box.x + e.x * vp.zoom + vp.x, y: box.y + e.y * vp.zoom + vp.y });
    const inSight = (p: { x: number; y: number }): boolean => p.x > box.x + 10 && p.x < box.x + box.width - 10 && p.y > box.y + 10 && p.y < box.y + box.height - 10;
    const size = (label: string): number => Number(/\((\d+)\)$/.exec(label)?.[1] ?? 0);
    const target = els.filter((e) => e.type === 'group' && inSight(at(e))).sort((a, b) => size(b.label) - size(a.label))[0];
    if (target) {
      const t0 = Date.now();
      await afterUpdate(page, () => page.mouse.dblclick(at(target).x, at(target).y), 600_000);
      expandMs = Date.now() - t0;
    }
    return { firstRenderMs, layoutMs, groupMs, drawn: els.length, expandMs, panFps: fps, longestTaskMs };
  } finally {
    await browser.close();
  }
}

console.log(`ui-map: headless Chromium ${budget ? `(budget ${budget})` : '(default budget 500)'}, software rendering (--disable-gpu), ${rounds} rounds per size; the machine is shared`);
console.log('| workloads | edges | drawn elements | first render ms | of which layout ms | grouping ms | expand a group ms | pan FPS | longest task ms |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of sizes) {
  const hub = await startTestHub({ webDir: repoPath('dist/web') });
  try {
    await sendToHub(hub.url, syntheticMessages(syntheticCluster({ workloads: n, edges: n * 5 }), Date.now() - 20_000), undefined, 2);
    await hub.settle();
    const url = `${hub.url}/${budget ? `?budget=${budget}` : ''}`;
    const rs: Round[] = [];
    for (let r = 0; r < rounds; r++) rs.push(await oneRound(url));
    const col = (f: (r: Round) => number): string => `${Math.round(median(rs.map(f)))} (${range(rs.map(f))})`;
    console.log(`| ${n.toLocaleString('en-US')} | ${(n * 5).toLocaleString('en-US')} | ${median(rs.map((r) => r.drawn))} | ${col((r) => r.firstRenderMs)} | ${col((r) => r.layoutMs)} | ${col((r) => r.groupMs)} | ${rs.some((r) => Number.isNaN(r.expandMs)) ? '–' : col((r) => r.expandMs)} | ${col((r) => r.panFps)} | ${col((r) => r.longestTaskMs)} |`);
  } finally {
    await hub.destroy();
  }
}
