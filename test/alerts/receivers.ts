// Local receivers that answer as the real services do (Slack: 200 "ok"; PagerDuty: 202 with a
// JSON status; webhooks: 200) and keep every request, and checks of each body, field by field,
// against the published formats:
//  - Alertmanager's webhook body, version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config);
//  - Slack incoming webhooks with Block Kit (api.slack.com/reference/block-kit/blocks: limits per
//    block and element);
//  - PagerDuty Events API v2 (developer.pagerduty.com/docs/events-api-v2/trigger-events,
//    .../resolve-events: required fields, enums, lengths).
import assert from 'node:assert/strict';
import http from 'node:http';

export interface Captured {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export class CaptureServer {
  readonly requests: Captured[] = [];
  private server: http.Server | undefined;
  port = 0;
  /** Answers with 500 while set (a receiver that is down). */
  failing = false;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // kept as text
        }
        if (this.failing) {
          res.writeHead(500).end('down');
          return;
        }
        this.requests.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
        if (req.url?.startsWith('/slack/')) {
          res.writeHead(200, { 'content-type': 'text/html' }).end('ok');
        } else if (req.url?.startsWith('/v2/enqueue')) {
          const dedup = (body as { dedup_key?: string }).dedup_key ?? 'generated';
          res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedup }));
        } else res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  at(prefix: string): Captured[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isStringMap = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** Alertmanager webhook v4: exactly these fields, these types. */
export function checkWebhookV4(b: any): void {
  assert.deepEqual(Object.keys(b).sort(), ['alerts', 'commonAnnotations', 'commonLabels', 'externalURL', 'groupKey', 'groupLabels', 'receiver', 'status', 'truncatedAlerts', 'version']);
  assert.equal(b.version, '4');
  assert.equal(typeof b.groupKey, 'string');
  assert.ok(Number.isInteger(b.truncatedAlerts) && b.truncatedAlerts >= 0);
  assert.ok(['firing', 'resolved'].includes(b.status));
  assert.equal(typeof b.receiver, 'string');
  for (const k of ['groupLabels', 'commonLabels', 'commonAnnotations']) assert.ok(isStringMap(b[k]), `${k} is a string map`);
  assert.equal(typeof b.externalURL, 'string');
  assert.ok(Array.isArray(b.alerts) && b.alerts.length > 0);
  for (const a of b.alerts) {
    assert.deepEqual(Object.keys(a).sort(), ['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
    assert.ok(['firing', 'resolved'].includes(a.status));
    assert.ok(isStringMap(a.labels) && typeof a.labels.alertname === 'string');
    assert.ok(isStringMap(a.annotations));
    assert.match(a.startsAt, RFC3339);
    assert.match(a.endsAt, RFC3339);
    if (a.status === 'firing') assert.equal(a.endsAt, '0001-01-01T00:00:00Z', "a firing alert's endsAt is Go's zero time, as Alertmanager sends it");
    assert.equal(typeof a.generatorURL, 'string');
    assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
  }
  assert.equal(b.status, b.alerts.some((a: any) => a.status === 'firing') ? 'firing' : 'resolved');
}

const SLACK_BLOCKS = new Set(['header', 'section', 'context', 'actions', 'divider']);

function checkText(t: any, types: string[], max: number, where: string): void {
  assert.ok(types.includes(t?.type), `${where}: a text object of type ${types.join(' or ')}`);
  assert.equal(typeof t.text, 'string');
  assert.ok(t.text.length >= 1 && t.text.length <= max, `${where}: 1 to ${max} characters (${t.text.length})`);
}

/** Slack: text (the notification fallback) and Block Kit blocks within their limits. */
export function checkSlack(b: any): void {
  assert.equal(typeof b.text, 'string');
  assert.ok(b.text.length > 0 && b.text.length <= 40_000);
  assert.ok(Array.isArray(b.blocks) && b.blocks.length >= 1 && b.blocks.length <= 50, 'at most 50 blocks');
  for (const [i, block] of b.blocks.entries()) {
    const where = `blocks[${i}]`;
    assert.ok(SLACK_BLOCKS.has(block.type), `${where}: a known block type (${block.type})`);
    if (block.block_id !== undefined) assert.ok(typeof block.block_id === 'string' && block.block_id.length <= 255);
    switch (block.type) {
      case 'header':
        checkText(block.text, ['plain_text'], 150, `${where}.text`);
        break;
      case 'section':
        if (block.text) checkText(block.text, ['plain_text', 'mrkdwn'], 3000, `${where}.text`);
        if (block.fields) {
          assert.ok(block.fields.length <= 10);
          for (const f of block.fields) checkText(f, ['plain_text', 'mrkdwn'], 2000, `${where}.fields`);
        }
        assert.ok(block.text || block.fields, `${where}: text or fields`);
        break;
      case 'context':
        assert.ok(Array.isArray(block.elements) && block.elements.length >= 1 && block.elements.length <= 10);
        for (const e of block.elements) checkText(e, ['plain_text', 'mrkdwn'], 3000, `${where}.elements`);
        break;
      case 'actions':
        assert.ok(Array.isArray(block.elements) && block.elements.length >= 1 && block.elements.length <= 25);
        for (const e of block.elements) {
          assert.equal(e.type, 'button');
          checkText(e.text, ['plain_text'], 75, `${where}.button.text`);
          if (e.url !== undefined) assert.ok(typeof e.url === 'string' && e.url.length <= 3000 && /^https?:\/\//.test(e.url));
        }
        break;
    }
  }
}

const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'];

/** PagerDuty Events API v2: a trigger with its payload, or a resolve with only the key. */
export function checkPagerDuty(b: any, routingKey: string): void {
  assert.equal(b.routing_key, routingKey);
  assert.ok(['trigger', 'acknowledge', 'resolve'].includes(b.event_action));
  assert.ok(typeof b.dedup_key === 'string' && b.dedup_key.length >= 1 && b.dedup_key.length <= 255);
  if (b.event_action !== 'trigger') {
    assert.deepEqual(Object.keys(b).sort(), ['dedup_key', 'event_action', 'routing_key']);
    return;
  }
  const allowed = ['routing_key', 'event_action', 'dedup_key', 'payload', 'images', 'links', 'client', 'client_url'];
  for (const k of Object.keys(b)) assert.ok(allowed.includes(k), `unknown top-level field ${k}`);
  const p = b.payload;
  assert.ok(typeof p.summary === 'string' && p.summary.length >= 1 && p.summary.length <= 1024);
  assert.ok(typeof p.source === 'string' && p.source.length >= 1);
  assert.ok(PD_SEVERITIES.includes(p.severity));
  if (p.timestamp !== undefined) assert.match(p.timestamp, RFC3339);
  for (const k of ['component', 'group', 'class']) if (p[k] !== undefined) assert.equal(typeof p[k], 'string');
  if (p.custom_details !== undefined) assert.equal(typeof p.custom_details, 'object');
  for (const k of Object.keys(p)) assert.ok(['summary', 'source', 'severity', 'timestamp', 'component', 'group', 'class', 'custom_details'].includes(k), `unknown payload field ${k}`);
  if (b.links) for (const l of b.links) assert.ok(typeof l.href === 'string' && /^https?:\/\//.test(l.href) && (l.text === undefined || typeof l.text === 'string'));
  if (b.client !== undefined) assert.equal(typeof b.client, 'string');
  if (b.client_url !== undefined) assert.match(b.client_url, /^https?:\/\//);
}
