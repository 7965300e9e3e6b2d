import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ContainerSource, type ContainerMeta } from './container-source.js';

const meta = (id: string, name = id): ContainerMeta => ({ id, name, image: 'img:1', version: '1', labels: {}, ips: [`10.0.0.${id.length}`], runtime: 'test' });

/** A runtime whose answers the test sets: a list, or an error; containers for inspect. */
class Scripted extends ContainerSource {
  readonly api = 'API';
  answer: ContainerMeta[] | Error = [];
  known = new Map<string, ContainerMeta>();
  lists = 0;
  inspects = 0;
  protected hint(): string {
    return 'Check the test.';
  }
  protected async list(): Promise<ContainerMeta[]> {
    this.lists++;
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
  protected async inspect(id: string): Promise<ContainerMeta | undefined> {
    this.inspects++;
    return this.known.get(id);
  }
}

function source(): { s: Scripted; warnings: string[]; changes: () => number } {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, cb) => (warnings.push(JSON.parse(chunk.toString()).msg as string), cb()) }));
  let changes = 0;
  const s = new Scripted('test', '/nonexistent/test.sock', log, { refreshMs: 2000, maxBackoffMs: 8000, onChange: () => changes++ });
  return { s, warnings, changes: () => changes };
}

test('a list replaces the cache: new containers in, removed ones out (and their addresses), a change noted only when labels differ', async () => {
  const { s, changes } = source();
  s.answer = [meta('a'), meta('bb')];
  await s.refresh(true);
  assert.equal(s.status.containers, 2);
  assert.equal(s.byAddress('10.0.0.2')?.id, 'bb');
  assert.equal(changes(), 1);
  await s.refresh(true);
  assert.equal(changes(), 1, 'the same list changes nothing');
  s.answer = [meta('a', 'renamed')];
  await s.refresh(true);
  assert.deepEqual([s.status.containers, s.container('a')?.name, s.container('bb'), s.byAddress('10.0.0.2')], [1, 'renamed', undefined, undefined]);
  assert.equal(changes(), 2);
});

test('a runtime that fails: lists back off (2 s, 4 s, 8 s at most), one warning, no lookups; answering again resets all', async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const { s, warnings } = source();
    s.answer = new Error('boom');
    await s.refresh(true);
    assert.equal(s.status.state, 'unavailable', 'the socket is absent');
    assert.equal(s.status.reason, 'socket /nonexistent/test.sock is absent');
    const listsAt = async (ms: number): Promise<number> => {
      mock.timers.tick(ms);
      await s.refresh();
      return s.lists;
    };
    assert.equal(await listsAt(1999), 1);
    assert.equal(await listsAt(1), 2);
    assert.equal(await listsAt(3999), 2);
    assert.equal(await listsAt(1), 3);
    assert.equal(await listsAt(7999), 3);
    assert.equal(await listsAt(1), 4);
    assert.equal(await listsAt(8000), 5, 'capped at maxBackoffMs');
    s.known.set('c', meta('c'));
    s.lookup('c');
    assert.equal(s.inspects, 0, 'no lookups while failing');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^test API on \/nonexistent\/test.sock did not answer as expected \(socket .* is absent\).*Check the test\.$/);
    s.answer = [meta('a')];
    await listsAt(8000);
    assert.equal(s.status.state, 'connected');
    assert.deepEqual(warnings.slice(1), ['test API answers again']);
    assert.equal(await listsAt(2000), 7, 'back to every 2 s');
  } finally {
    mock.timers.reset();
  }
});

test('lookups: one question per unknown id, absent ids not asked again for 10 s', async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const { s, changes } = source();
    await s.refresh(true);
    s.known.set('c', meta('c'));
    s.lookup('c');
    s.lookup('c');
    await new Promise(setImmediate);
    assert.equal(s.inspects, 1);
    assert.equal(s.container('c')?.name, 'c');
    assert.equal(changes(), 1);
    s.lookup('gone');
    await new Promise(setImmediate);
    s.lookup('gone');
    assert.equal(s.inspects, 2, 'not asked again at once');
    mock.timers.tick(10_000);
    s.lookup('gone');
    assert.equal(s.inspects, 3, 'asked again after 10 s');
  } finally {
    mock.timers.reset();
  }
});
