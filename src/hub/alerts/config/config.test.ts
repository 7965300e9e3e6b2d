import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertsConfigError, defaultAlertsConfig, parseAlertsConfig } from './load.js';
import { overrideFor, rulesAt } from './match.js';

const ext = { externalUrl: 'http://hub:4040' };

function problems(text: string, dir = '/nonexistent'): string[] {
  try {
    parseAlertsConfig(text, 'alerts.yaml', ext, dir);
  } catch (err) {
    assert.ok(err instanceof AlertsConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

test('no configuration gives working defaults: the SRE workbook burn windows, robust bands, a day of learning', () => {
  const c = defaultAlertsConfig(ext);
  assert.equal(c.view, 'workload');
  assert.equal(c.rules.failures.objective, 0.999);
  assert.deepEqual(
    c.rules.failures.windows.map((w) => [w.longMs / 60_000, w.shortMs / 60_000, w.burnRate, w.severity]),
    [
      [60, 5, 14.4, 'critical'],
      [360, 15, 6, 'warning'],
    ],
  );
  assert.equal(c.rules.rtt.minDelta, 0.001);
  assert.equal(c.rules.retransmits.minDelta, 0.01);
  assert.equal(c.learningWindowMs, 86_400_000);
  assert.equal(c.receivers.length, 0);
  assert.equal(c.externalUrl, 'http://hub:4040');
});

test('a file changes only what it names; an empty file is the defaults', () => {
  const c = parseAlertsConfig('rules:\n  failures:\n    objective: 99%\n  rtt:\n    min_delta: 5ms\n', 'a.yaml', ext);
  assert.equal(c.rules.failures.objective, 0.99);
  assert.equal(c.rules.failures.windows.length, 2);
  assert.equal(c.rules.rtt.minDelta, 0.005);
  assert.equal(c.rules.rtt.mads, 5);
  assert.deepEqual(parseAlertsConfig('', 'a.yaml', ext).rules, defaultAlertsConfig(ext).rules);
});

test('overrides per namespace or workload: the last that matches wins, merged over the top-level rules', () => {
  const c = parseAlertsConfig(
    `rules:
  rtt: { mads: 4 }
overrides:
  - match: { namespace: shop }
    rules: { failures: { objective: 99% } }
  - match: { namespace: shop, workload: pay*, side: server }
    rules: { rtt: { enabled: false } }
`,
    'a.yaml',
    ext,
  );
  const scope = (ns: string, w: string, side: 'client' | 'server') => {
    const end = { namespace: ns, workload: w };
    const other = { namespace: '', workload: 'x' };
    return { client: side === 'client' ? end : other, server: side === 'server' ? end : other, port: 8080 };
  };
  const shop = rulesAt(c, overrideFor(c, scope('shop', 'checkout', 'client')));
  assert.equal(shop.failures.objective, 0.99);
  assert.equal(shop.rtt.mads, 4, 'top-level rules stay under an override');
  const payments = rulesAt(c, overrideFor(c, scope('shop', 'payments', 'server')));
  assert.equal(payments.rtt.enabled, false);
  assert.equal(payments.failures.objective, 0.999, 'the last override that matches applies, alone');
  assert.equal(overrideFor(c, scope('shop', 'payments', 'client')), 0, 'side: server does not match a client end');
  assert.equal(rulesAt(c, overrideFor(c, scope('dev', 'x', 'client'))).failures.objective, 0.999);
});

test('mistakes are refused with the line and column of each, and say what would do', () => {
  const p = problems(`rules:
  failures:
    objective: 150%
    windows:
      - { long: 5m, short: 1h, burn_rate: 14.4, severity: critical }
  rtt:
    min_delta: 5%
    mads: many
  latency: {}
baseline:
  window: 10x
`);
  const find = (re: RegExp): string => p.find((x) => re.test(x)) ?? assert.fail(`no problem matching ${re}: ${p.join(' | ')}`);
  assert.match(find(/rules\.rtt\.mads/), /^alerts\.yaml:8:11: .*expected number/);
  assert.match(find(/latency/), /^alerts\.yaml:9:3: rules\.latency: unknown field 'latency'/);
  assert.match(find(/baseline\.window/), /^alerts\.yaml:11:11: baseline\.window: is not a duration: use e\.g\. 30s, 5m, 1h/);
  // Semantic problems come once the file parses.
  const q = problems(`rules:
  failures:
    objective: 150%
    windows:
      - { long: 5m, short: 1h, burn_rate: 14.4, severity: critical }
  rtt:
    min_delta: 5%
`);
  assert.ok(q.some((x) => /^alerts\.yaml:3:16: rules\.failures\.objective: must be between 0% and 100%/.test(x)), q.join(' | '));
  assert.ok(q.some((x) => /^alerts\.yaml:5:\d+: rules\.failures\.windows\[0\]\.short: must be shorter than long \(5m\)/.test(x)), q.join(' | '));
  assert.ok(q.some((x) => /^alerts\.yaml:7:16: rules\.rtt\.min_delta: is a round-trip time: use a duration like 1ms/.test(x)), q.join(' | '));
  assert.match(problems('rules: [1, 2\n')[0]!, /^alerts\.yaml:\d+:\d+: YAML syntax/);
  assert.match(problems('view: pods\n')[0]!, /^alerts\.yaml:1:7: view: 'pods' is not a view/);
  assert.match(problems('overrides:\n  - match: {}\n    rules: {}\n')[0]!, /^alerts\.yaml:2:12: overrides\[0\]\.match: matches every edge/);
});

test('secrets come from files only: a missing, world-readable or empty file is refused by name, never by content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-alerts-cfg-'));
  try {
    const url = join(dir, 'slack-url');
    writeFileSync(url, 'https://hooks.slack.example/services/T000/B000/SECRETSECRET\n', { mode: 0o600 });
    const key = join(dir, 'pd-key');
    writeFileSync(key, 'abcdefghijabcdefghijabcdefghij12', { mode: 0o640 });
    const c = parseAlertsConfig(
      `receivers:
  - name: slack
    slack: { webhook_url_file: slack-url }
  - name: pd
    group_by: [alertname]
    pagerduty: { routing_key_file: ${key}, url: "http://127.0.0.1:9/v2/enqueue" }
  - name: am
    alertmanager: { url: "http://127.0.0.1:9093" }
`,
      join(dir, 'alerts.yaml'),
      ext,
    );
    assert.deepEqual(
      c.receivers.map((r) => r.kind.type),
      ['slack', 'pagerduty', 'alertmanager'],
    );
    assert.equal(c.receivers[0]!.kind.type === 'slack' && c.receivers[0]!.kind.url, 'https://hooks.slack.example/services/T000/B000/SECRETSECRET');
    assert.deepEqual(c.receivers[1]!.delivery.groupBy, ['alertname']);
    chmodSync(url, 0o644);
    const p = problems(`receivers:\n  - name: slack\n    slack: { webhook_url_file: slack-url }\n  - name: x\n    webhook: { url_file: nothere }\n`, dir);
    assert.ok(p.some((x) => /^alerts\.yaml:3:32: receivers\[0\]\.slack\.webhook_url_file: .*slack-url is readable by every user: chmod 600/.test(x)), p.join(' | '));
    assert.ok(p.some((x) => /receivers\[1\]\.webhook\.url_file: .*nothere cannot be read: ENOENT/.test(x)), p.join(' | '));
    // A secret written into the file itself is not taken.
    const inline = problems(`receivers:\n  - name: y\n    slack: { webhook_url: "https://hooks.slack.example/x" }\n`, dir);
    assert.ok(inline.some((x) => /^alerts\.yaml:3:14: receivers\[0\]\.slack\.webhook_url: unknown field/.test(x)), inline.join(' | '));
    assert.ok(inline.some((x) => /receivers\[0\]\.slack\.webhook_url_file: is required/.test(x)), inline.join(' | '));
    assert.ok(!p.some((x) => x.includes('SECRETSECRET')), 'no secret in any message');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
