// The UI in a real browser (Debian's Chromium driven by playwright-core) against a hub fed by
// agents: the map shows the processes that talked; search selects and centres; neighbourhood mode
// hides what is beyond N hops; an edge's panel shows its breakdown; the table lists the hub's
// edges; a copied URL reproduces the view; a live update moves no node; compare mode marks a new
// edge; a name made of HTML stays text. Screenshots go to test-output/web/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { afterUpdate, chromiumMissing, drawn, drawnFor, launch, mapReady, screenshot, watchPage, type Browser, type Drawn, type PageGlobals, type PageTrouble } from './browser.js';
import { startWorld, type World } from './world.js';

const skip = chromiumMissing();
let world: World;
let browser: Browser;

before(async () => {
  if (skip) return;
  world = await startWorld();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await world?.stop();
});

async function open(path: string): Promise<{ page: Page; trouble: PageTrouble }> {
  const page = await browser.context.newPage();
  const trouble = await watchPage(page);
  await page.goto(`${world.hub.url}${path}`);
  if (path.includes('tab=table')) await page.getByTestId('edge-table').locator('tbody tr').first().waitFor();
  else await mapReady(page);
  return { page, trouble };
}

const leaves = (els: Drawn[]): Drawn[] => els.filter((e) => e.group === 'nodes' && e.type !== 'box' && e.type !== 'group');
const labels = (els: Drawn[]): string[] => leaves(els).map((e) => e.label).sort();

function noTrouble(t: PageTrouble): void {
  assert.deepEqual(t.errors, [], 'no script errors');
  assert.deepEqual(t.cspViolations, [], 'no CSP violations');
  assert.deepEqual(t.dialogs, [], 'no dialogs');
}

/** Where a node is drawn, in the map's pixels, against the map's centre. */
async function offCentre(page: Page, id: string): Promise<number> {
  const box = (await page.locator('.map').boundingBox())!;
  const { el, vp } = await page.evaluate((nid) => {
    const f = (globalThis as unknown as PageGlobals).flowscope!;
    return { el: f.elements().find((e) => e.id === nid)!, vp: f.viewport() };
  }, id);
  return Math.hypot(el.x * vp.zoom + vp.x - box.width / 2, el.y * vp.zoom + vp.y - box.height / 2);
}

async function selectedIds(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.selected());
}

test('the map shows the processes that talked, grouped in node boxes inside zone boxes', { skip }, async () => {
  const { page, trouble } = await open('/?view=process');
  const els = await drawn(page);
  const talked = world.talked();
  for (const name of ['frontend', 'api', 'db', 'cache', 'payments', '<svg onload=x>']) assert.ok(talked.includes(name), `${name} talked (by its own account): ${JSON.stringify(world.talks)}`);
  for (const name of talked) assert.ok(labels(els).includes(name), `${name} is on the map: ${labels(els).join(', ')}`);
  const boxes = els.filter((e) => e.type === 'box').map((e) => e.label);
  assert.ok(boxes.includes('zone zone-1') && boxes.includes('node node-a'), boxes.join(', '));
  const api = leaves(els).find((e) => e.label === 'api')!;
  assert.equal(els.find((e) => e.id === api.parent)!.label, 'node node-b');
  assert.ok(els.some((e) => e.group === 'edges' && e.classes.length === 0 && e.color === '#c62828'), 'the refused edge is drawn as failing');
  await screenshot(page, 'map');
  noTrouble(trouble);
  await page.close();
});

test('search selects and centres a node', { skip }, async () => {
  const { page, trouble } = await open('/?view=process');
  const els = await drawn(page);
  const cache = leaves(els).find((e) => e.label === 'cache')!;
  assert.ok((await offCentre(page, cache.id)) > 50, 'cache is not at the centre to begin with');
  await page.getByRole('combobox', { name: /Search nodes/ }).fill('cach');
  await page.getByRole('option', { name: /cache/ }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => (globalThis as unknown as PageGlobals).flowscope!.selected().includes(id), cache.id);
  await page.waitForTimeout(400);
  assert.ok((await offCentre(page, cache.id)) < 5, 'centred');
  assert.deepEqual(await selectedIds(page), [cache.id]);
  assert.match(await page.getByTestId('details').locator('h2').innerText(), /^cache$/);
  assert.ok(new URL(page.url()).searchParams.get('sel') === cache.id, 'the selection is in the URL');
  noTrouble(trouble);
  await page.close();
});

test('neighbourhood mode shows the selection and what is within N hops, and hides the rest', { skip }, async () => {
  const { page, trouble } = await open('/?view=process');
  const api = leaves(await drawn(page)).find((e) => e.label === 'api')!;
  await page.getByRole('combobox', { name: /Search nodes/ }).fill('api');
  await page.getByRole('option', { name: /api/ }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Neighbourhood from here' }).click();
  await drawnFor(page, `neighbourhood of ${api.id} within 1`);
  const one = labels(await drawn(page));
  assert.ok(one.includes('api') && one.includes('frontend') && one.includes('db') && one.includes('payments'), one.join(', '));
  assert.ok(!one.includes('cache'), `cache is two hops from api: ${one.join(', ')}`);
  await page.getByLabel('hops').fill('2');
  await drawnFor(page, `neighbourhood of ${api.id} within 2`);
  assert.ok(labels(await drawn(page)).includes('cache'));
  assert.deepEqual(await selectedIds(page), [api.id], 'the selection stays');
  noTrouble(trouble);
  await page.close();
});

test("an edge's panel shows the failure-domain breakdown as a ranked table with bars", { skip }, async () => {
  const { page, trouble } = await open('/?view=process&tab=table');
  await page.getByRole('button', { name: /Details of api to payments port 9000/ }).click();
  const panel = page.getByTestId('details');
  await panel.getByTestId('breakdown').locator('table tbody tr').first().waitFor();
  assert.match(await panel.locator('h2').innerText(), /api\s*→\s*payments/);
  await panel.getByLabel('Split by').selectOption('node');
  await panel.getByTestId('breakdown').locator('tbody tr', { hasText: 'node-c' }).first().waitFor();
  const rows = await panel.getByTestId('breakdown').locator('tbody tr').allInnerTexts();
  assert.ok(rows.some((r) => r.includes('node-c')), rows.join('\n'));
  assert.ok((await panel.locator('.bar-problem').count()) > 0, 'bars');
  await panel.getByTestId('charts').waitFor();
  await screenshot(page, 'edge-panel');
  noTrouble(trouble);
  await page.close();
});

test("the table lists the same edges as the hub's API", { skip }, async () => {
  // A window that ended a few intervals ago: every agent's batches for it are joined.
  const to = new Date(Date.now() - 5000).toISOString();
  const from = new Date(Date.now() - 120_000).toISOString();
  const { page, trouble } = await open(`/?view=process&tab=table&range=custom&from=${from}&to=${to}`);
  await page.getByTestId('edge-table').locator('tbody tr').first().waitFor();
  const ids = await page.getByTestId('edge-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { edgeId: string } }).dataset.edgeId));
  const api = (await world.hub.get(`/api/v1/graph?view=process&from=${from}&to=${to}`)).body as { edges: Array<{ id: string; connections: number }> };
  assert.deepEqual([...ids].sort(), api.edges.map((e) => e.id).sort());
  const first = await page.getByTestId('edge-table').locator('tbody tr').first().locator('td').nth(4).innerText();
  const busiest = Math.max(...api.edges.map((e) => e.connections));
  assert.equal(Number(first.replace(/,/g, '')), busiest, 'sorted by connections, the busiest first');
  await screenshot(page, 'table');
  noTrouble(trouble);
  await page.close();
});

test('a copied URL reproduces the view in a new page', { skip }, async () => {
  const { page, trouble } = await open('/?view=process&failures=0');
  await page.getByRole('combobox', { name: /Search nodes/ }).fill('db');
  await page.getByRole('option', { name: /db/ }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.getByLabel('Mute', { exact: true }).fill('port=6379');
  await afterUpdate(page, () => page.getByRole('button', { name: 'Add' }).click());
  await page.waitForTimeout(600); // the viewport reaches the URL after a pause
  const url = page.url();
  const before = { els: await drawn(page), vp: await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.viewport()), sel: await selectedIds(page) };
  const { page: copy, trouble: t2 } = await open(new URL(url).pathname + new URL(url).search);
  const after = { els: await drawn(copy), vp: await copy.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.viewport()), sel: await selectedIds(copy) };
  assert.deepEqual(after.sel, before.sel);
  assert.ok(!labels(after.els).includes('cache'), 'the mute rule came with the link');
  assert.deepEqual(after.els.map((e) => e.id).sort(), before.els.map((e) => e.id).sort(), 'the same nodes, boxes and edges');
  assert.ok(Math.abs(after.vp.zoom - before.vp.zoom) < 0.001, 'the same zoom');
  // Positions come from a fresh layout of what the link shows (the first page placed things as
  // they came); the selection is in sight in both.
  for (const p of [page, copy]) assert.ok((await offCentre(p, before.sel[0]!)) < Math.max(...Object.values((await p.locator('.map').boundingBox())!)) / 2);
  noTrouble(trouble);
  noTrouble(t2);
  await page.close();
  await copy.close();
});

test('a live update keeps every existing node where it was, with zoom, pan and selection', { skip }, async () => {
  const { page, trouble } = await open('/?view=process');
  const db = leaves(await drawn(page)).find((e) => e.label === 'db')!;
  await page.getByRole('combobox', { name: /Search nodes/ }).fill('db');
  await page.getByRole('option', { name: /db/ }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.waitForTimeout(400);
  const before = await drawn(page);
  const vp = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.viewport());
  await world.newTraffic('newcomer', 'ledger');
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).flowscope!.elements().some((e) => e.label === 'ledger'), undefined, { timeout: 30_000 });
  await mapReady(page);
  const after = await drawn(page);
  for (const e of leaves(before)) {
    const now = after.find((x) => x.id === e.id);
    assert.ok(now, `${e.label} is still drawn`);
    assert.deepEqual([now.x, now.y], [e.x, e.y], `${e.label} did not move`);
  }
  assert.ok(labels(after).includes('newcomer'));
  const placements = await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.status.placements);
  assert.deepEqual(placements.slice(1).filter((p) => p.mode !== 'incremental' || p.moved > 0), [], `after the first, only incremental placements that moved nothing: ${JSON.stringify(placements)}`);
  assert.deepEqual(await page.evaluate(() => (globalThis as unknown as PageGlobals).flowscope!.viewport()), vp, 'zoom and pan kept');
  assert.deepEqual(await selectedIds(page), [db.id], 'selection kept');
  await screenshot(page, 'live-update');
  noTrouble(trouble);
  await page.close();
});

test('a process named with HTML is shown as text and runs nothing', { skip }, async () => {
  const name = '<svg onload=x>';
  const { page, trouble } = await open('/?view=process');
  assert.ok(labels(await drawn(page)).includes(name), 'drawn on the map under its name');
  await page.getByRole('combobox', { name: /Search nodes/ }).fill('<svg');
  const option = page.getByRole('option').first();
  await option.waitFor();
  assert.match(await option.innerText(), /<svg onload=x>/);
  await page.keyboard.press('Enter');
  assert.equal(await page.getByTestId('details').locator('h2').innerText(), name);
  await page.getByRole('tab', { name: 'Table' }).click();
  await page.getByTestId('edge-table').getByText(name, { exact: true }).first().waitFor();
  assert.equal(await page.locator('svg[onload]').count(), 0, 'no element made from the name');
  assert.equal(await page.evaluate(() => typeof (globalThis as unknown as Record<string, unknown>).x), 'undefined');
  noTrouble(trouble);
  await page.close();
});

test('compare mode marks an edge that is new since the earlier window', { skip }, async () => {
  const baselineFrom = new Date(Date.now() - 60_000).toISOString();
  const baselineTo = new Date(Date.now() - 1000).toISOString();
  await world.newTraffic('reporter', 'archive');
  const from = new Date(Date.now() - 2000).toISOString();
  await new Promise((r) => setTimeout(r, 3000));
  const to = new Date().toISOString();
  const q = new URLSearchParams({ view: 'process', range: 'custom', from, to, cmp: 'custom', bfrom: baselineFrom, bto: baselineTo });
  const { page, trouble } = await open(`/?${q}`);
  const els = await drawn(page);
  const reporter = leaves(els).find((e) => e.label === 'reporter');
  assert.ok(reporter, labels(els).join(', '));
  const marked = (id: string): boolean => els.some((e) => e.group === 'edges' && e.source === id && e.classes.includes('new'));
  assert.ok(marked(reporter.id), 'the new edge is marked');
  for (const old of ['frontend', 'api', 'db']) assert.ok(!marked(leaves(els).find((e) => e.label === old)!.id), `${old}'s edge was there before`);
  assert.match(await page.getByTestId('status').innerText(), /\d+ new, 0 gone/);
  await page.getByRole('tab', { name: 'Table' }).click();
  const row = page.getByTestId('edge-table').locator('tbody tr', { hasText: 'reporter' });
  assert.match(await row.innerText(), /\bnew\b/);
  await page.getByRole('tab', { name: 'Map' }).click();
  await mapReady(page);
  await screenshot(page, 'compare');
  noTrouble(trouble);
  await page.close();
});
