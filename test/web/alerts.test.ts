// Alerts in the UI, in a real browser against a hub (with alerting, windows shortened through its
// configuration) fed by real agents: a new client that appears after the learning window raises a
// real new-dependency alert (warning); the map, already open and live, draws its edge as the alert
// says (degraded, where its counters alone are healthy), and so does a map of the last 5 minutes
// opened before the edge existed (read again because the firing alerts changed); its panel names
// the alert; the Alerts
// panel lists it, shows its edge on the map, silences it (the silence is in the hub's API and the
// alert shown silenced) and expires the silence again; the table names it. Screenshot in
// test-output/web/alerts.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { parseAlertsConfig } from '../../src/hub/alerts/config/load.js';
import { edgeHealth, HEALTH_COLOURS } from '../../src/web/logic/health.js';
import type { AlertItem, Graph, GraphEdge, SilenceItem } from '../../src/web/logic/api-types.js';
import { waitFor } from '../support/run.js';
import { chromiumMissing, drawn, launch, mapReady, screenshot, watchPage, type Browser, type PageGlobals, type PageTrouble } from './browser.js';
import { startWorld, type World } from './world.js';

const skip = chromiumMissing();
let world: World;
let browser: Browser;

// Production defaults are hours; here alerting learns for 15 s (long enough, as a rule, for the
// world's own programs to start talking), and a new edge counts once it carried traffic for 2 s. New dependencies are warnings so that the map colours them.
const CONFIG = `
evaluation_interval: 1s
view: process
resolution: { short: 1s, long: 5s }
baseline: { window: 6s, every: 3s, points: 40, min_points: 5 }
learning_window: 15s
rules:
  new_dependency: { severity: warning, hold: 1h, settle: 2s }
  failures: { windows: [{ long: 60s, short: 10s, burn_rate: 14.4, severity: critical }] }
`;

const CLIENT = 'auditor';
const SERVER = 'ledger';
const COMMENT = 'UI test: <b>looking</b> into it';

before(async () => {
  if (skip) return;
  world = await startWorld({ alerts: parseAlertsConfig(CONFIG, 'ui-alerts.yaml', { externalUrl: '' }) });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await world?.stop();
});

async function hubGet<T>(path: string): Promise<T> {
  const r = await world.hub.get(path);
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body as T;
}

const activeAlerts = async (): Promise<AlertItem[]> => (await hubGet<{ alerts: AlertItem[] }>('/api/v1/alerts?state=active')).alerts;

/** The new edge in the process view, as the hub's API has it. */
async function newEdge(): Promise<{ edge: GraphEdge | undefined; graph: Graph }> {
  const graph = await hubGet<Graph>('/api/v1/graph?view=process&from=-2m');
  const client = graph.nodes.find((n) => n.name === CLIENT);
  return { graph, edge: client ? graph.edges.find((e) => e.source === client.id) : undefined };
}

function noTrouble(t: PageTrouble): void {
  assert.deepEqual(t.errors, [], 'no script errors');
  assert.deepEqual(t.cspViolations, [], 'no CSP violations');
  assert.deepEqual(t.dialogs, [], 'no dialogs');
}

async function edgeColour(page: Page, id: string): Promise<string | undefined> {
  return (await drawn(page)).find((e) => e.id === id)?.color;
}

/** How far the middle of an edge is drawn from the map's centre, in pixels. */
async function edgeOffCentre(page: Page, edge: GraphEdge): Promise<number> {
  const box = (await page.locator('.map').boundingBox())!;
  const { s, t, vp } = await page.evaluate(
    ([a, b]) => {
      const f = (globalThis as unknown as PageGlobals).flowscope!;
      const els = f.elements();
      return { s: els.find((e) => e.id === a)!, t: els.find((e) => e.id === b)!, vp: f.viewport() };
    },
    [edge.source, edge.target],
  );
  return Math.hypot(((s.x + t.x) / 2) * vp.zoom + vp.x - box.width / 2, ((s.y + t.y) / 2) * vp.zoom + vp.y - box.height / 2);
}

test('a real new-dependency alert: drawn on its edge, listed in the Alerts panel, silenced and expired from there', { skip, timeout: 120_000 }, async () => {
  const started = Date.now();
  // The map is open and live before the new client exists: its edge arrives by the stream, which
  // carries no alert marks, and the alert fires after it.
  const page = await browser.context.newPage();
  const trouble = await watchPage(page);
  await page.goto(`${world.hub.url}/?view=process`);
  await mapReady(page);
  // A second page over the last 5 minutes: no stream and no periodic refresh there, so only the
  // firing alerts changing can make it read the graph again (and find the new edge with its mark).
  const fixed = await browser.context.newPage();
  const fixedTrouble = await watchPage(fixed);
  await fixed.goto(`${world.hub.url}/?view=process&range=5m`);
  await mapReady(fixed);
  const status = await hubGet<{ learning_until: string | null }>('/api/v1/alerts/status');
  assert.ok(status.learning_until, 'alerting has started learning');
  await waitFor(() => Date.now() > Date.parse(status.learning_until!) + 500, 30_000, 'the learning window to pass');
  const before = await activeAlerts();
  assert.ok(!before.some((a) => a.edge?.source === CLIENT), 'no alert names the new client before it exists');

  await world.newTraffic(CLIENT, SERVER);
  const alert = (await waitFor(async () => (await activeAlerts()).find((a) => a.edge?.source === CLIENT && a.state === 'firing'), 30_000, `the new-dependency alert on ${CLIENT} -> ${SERVER}`, 500).catch(async (err: Error) => {
    const all = await hubGet<unknown>('/api/v1/alerts?state=all&since=-10m');
    const pending = await hubGet<unknown>('/api/v1/alerts/status');
    throw new Error(`${err.message}; alerts: ${JSON.stringify(all).slice(0, 3000)}; status: ${JSON.stringify(pending)}; edges: ${JSON.stringify((await newEdge()).graph.edges.map((e) => e.id))}`);
  }))!;
  assert.equal(alert.name, 'FlowscopeNewDependency');
  assert.equal(alert.severity, 'warning');
  assert.equal(alert.edge?.target, SERVER);
  assert.deepEqual(alert.silenced_by, []);
  const { edge, graph } = await newEdge();
  assert.ok(edge, `the hub has the edge ${CLIENT} -> ${SERVER}`);
  assert.deepEqual(
    edge.alerts?.map((m) => [m.id, m.state]),
    [[alert.id, 'firing']],
    'the hub marks the edge with the alert',
  );
  assert.equal(edge.id, alert.edge!.id, 'alerting watches the process view: the alert is on this very edge');
  assert.equal(edgeHealth({ ...edge, alerts: undefined }).health, 'ok', `its counters alone are healthy (${edge.connections} connections, no failures or resets), so a colour comes from the alert`);
  assert.equal(edge.resets + Object.values(edge.failures).reduce((a, b) => a + b, 0), 0);

  // The map draws it degraded, as the warning says; green without it.
  await page.waitForFunction(
    ([id, colour]) => (globalThis as unknown as PageGlobals).flowscope?.elements().some((e) => e.id === id && e.color === colour) ?? false,
    [edge.id, HEALTH_COLOURS.degraded],
    { timeout: 30_000 },
  );
  assert.equal(await edgeColour(page, edge.id), HEALTH_COLOURS.degraded);
  await fixed.waitForFunction(
    ([id, colour]) => (globalThis as unknown as PageGlobals).flowscope?.elements().some((e) => e.id === id && e.color === colour) ?? false,
    [edge.id, HEALTH_COLOURS.degraded],
    { timeout: 30_000 },
  );
  noTrouble(fixedTrouble);
  await fixed.close();

  // The toolbar counts the firing alerts as the hub does.
  const firing = (await activeAlerts()).filter((a) => a.state === 'firing').length;
  const button = page.getByRole('button', { name: /^Alerts \d+ firing$/ });
  await waitFor(async () => (await page.locator('.alerts-button .count').innerText()) === String(firing), 10_000, `the toolbar to count ${firing} firing`);
  assert.equal(await button.getAttribute('aria-expanded'), 'false');

  // The Alerts panel lists it: name, severity, edge, since.
  await button.click();
  assert.equal(await button.getAttribute('aria-expanded'), 'true');
  const panel = page.getByTestId('alerts-panel');
  const item = panel.locator(`li[data-alert-id="${alert.id}"]`);
  await item.waitFor();
  const text = await item.innerText();
  assert.match(text, /FlowscopeNewDependency/);
  assert.match(text, /warning/i, "its severity");
  assert.ok(text.includes(`${CLIENT} → ${SERVER}:${edge.port}`), text);
  assert.ok(text.includes(`since ${alert.starts_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`), text);
  assert.equal(await panel.locator('li[data-alert-id]').count(), (await activeAlerts()).length, 'every active alert is listed');

  // Showing it selects its edge, centres it, and the edge's panel names the alert.
  await item.getByRole('button', { name: 'FlowscopeNewDependency' }).click();
  await page.waitForFunction((id) => (globalThis as unknown as PageGlobals).flowscope?.selected().includes(id) ?? false, edge.id, { timeout: 10_000 });
  await waitFor(async () => (await edgeOffCentre(page, edge)) < 40, 5000, 'the alert\'s edge to be centred');
  const details = page.locator('.details');
  await details.locator('.reasons').waitFor();
  const reasons = await details.locator('.reasons li').allInnerTexts();
  assert.ok(reasons.some((r) => r.startsWith('alert: FlowscopeNewDependency since ')), reasons.join(' | '));
  assert.match(await details.locator('.health').first().innerText(), /degraded/i);
  assert.match(await details.locator(`.edge-alerts li[data-alert-id="${alert.id}"]`).innerText(), /FlowscopeNewDependency, firing since /);

  // Silence it for 4 h with a comment (markup in it stays text).
  await item.getByRole('button', { name: 'Silence…', exact: true }).click();
  const form = item.getByRole('form', { name: 'Silence FlowscopeNewDependency' });
  await form.getByLabel('for', { exact: true }).selectOption('4h');
  await form.getByLabel('Comment', { exact: true }).fill(COMMENT);
  const asked = Date.now();
  await form.getByRole('button', { name: 'Silence', exact: true }).click();
  const silence = (await waitFor(async () => (await hubGet<{ silences: SilenceItem[] }>('/api/v1/silences')).silences.find((s) => s.comment === COMMENT), 10_000, 'the silence in the hub'))!;
  assert.equal(silence.kind, 'silence');
  assert.equal(silence.created_by, 'flowscope UI');
  const hours = (Date.parse(silence.ends_at) - asked) / 3_600_000;
  assert.ok(hours > 3.99 && hours < 4.01, `it lasts 4 h (${hours.toFixed(3)} h)`);
  assert.ok(silence.matchers.some((m) => m.name === 'alertname' && m.op === '=' && m.value === 'FlowscopeNewDependency'));
  assert.ok(silence.matchers.some((m) => m.name === 'source' && m.value === CLIENT));
  const silenced = (await activeAlerts()).find((a) => a.id === alert.id)!;
  assert.deepEqual(silenced.silenced_by, [silence.id], 'the hub keeps the alert from receivers with this silence');
  const others = (await activeAlerts()).filter((a) => a.id !== alert.id && a.silenced_by.includes(silence.id));
  assert.deepEqual(others, [], 'the silence matches this alert only');

  // The panel shows it silenced, and the silence in force with its comment as text.
  await waitFor(async () => (await item.getAttribute('data-silenced')) === 'true', 10_000, 'the panel to show the alert silenced');
  assert.match(await item.innerText(), /silenced until /);
  const entry = panel.locator(`li[data-silence-id="${silence.id}"]`);
  await entry.waitFor();
  assert.ok((await entry.innerText()).includes(COMMENT), 'the comment is shown as written');
  assert.equal(await entry.locator('b').count(), 0, 'markup in a comment is text, not elements');
  assert.equal(await edgeColour(page, edge.id), HEALTH_COLOURS.degraded, 'a silenced alert still fires: the edge keeps its colour');
  await screenshot(page, 'alerts');

  // The table names the alert on its edge's row.
  await page.getByRole('tab', { name: 'Table' }).click();
  const row = page.locator(`tr[data-edge-id="${edge.id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /FlowscopeNewDependency \(warning, since /);

  // Expire the silence from the panel: the hub ends it and the alert is no longer silenced.
  await entry.getByRole('button', { name: /^Expire silence / }).click();
  await waitFor(async () => Date.parse((await hubGet<SilenceItem>(`/api/v1/silences/${silence.id}`)).ends_at) <= Date.now(), 10_000, 'the silence to be expired in the hub');
  assert.deepEqual((await activeAlerts()).find((a) => a.id === alert.id)!.silenced_by, []);
  await waitFor(async () => (await item.getAttribute('data-silenced')) === 'false', 10_000, 'the panel to show the alert no longer silenced');

  // Escape closes the panel and gives the focus back to its button.
  await panel.getByRole('heading', { name: 'Alerts' }).press('Escape');
  await panel.waitFor({ state: 'detached' });
  assert.equal(await button.evaluate((b) => b === (b.ownerDocument as unknown as { activeElement: unknown }).activeElement), true, 'the focus is back on the Alerts button');
  assert.ok(graph.edges.length >= 5, 'the world\'s edges are on the map too');
  noTrouble(trouble);
  console.log(`# from the page opening to the silence expired: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await page.close();
});
