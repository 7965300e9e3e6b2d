// The layers of src/ hold (dependency-cruiser with .dependency-cruiser.cjs), and the check is real: a
// deliberate violation in a copy of the tree fails it with the rule's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../src/lib/paths.js';

const DEPCRUISE = repoPath('node_modules/.bin/depcruise');

interface Cruise {
  code: number;
  out: string;
}

function cruise(root: string, args: string[] = ['--output-type', 'err']): Cruise {
  const r = spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A copy of what the check reads (src/, the config, tsconfig.json), with node_modules linked. */
function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-layers-'));
  cpSync(repoPath('src'), join(dir, 'src'), { recursive: true });
  cpSync(repoPath('.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  cpSync(repoPath('tsconfig.json'), join(dir, 'tsconfig.json'));
  cpSync(repoPath('package.json'), join(dir, 'package.json'));
  spawnSync('ln', ['-s', repoPath('node_modules'), join(dir, 'node_modules')]);
  return dir;
}

test('the layers of src/ hold: no dependency-cruiser rule is broken', () => {
  const r = cruise(repoPath());
  assert.equal(r.code, 0, `layer violations:\n${r.out}`);
  assert.match(r.out, /no dependency violations found/);
});

test('a deliberate violation fails the check and names the rule and the import', { timeout: 120_000 }, () => {
  const dir = copyTree();
  try {
    writeFileSync(join(dir, 'src/model/layer-violation.ts'), "import { createLogger } from '../lib/log.js';\nexport const made = createLogger;\n");
    writeFileSync(join(dir, 'src/agent/programs-violation.ts'), "import { ProgramRegistry } from '../programs/registry.js';\nexport const made = ProgramRegistry;\n");
    writeFileSync(join(dir, 'src/cli/view-violation.ts'), "import { ConnEventView } from '../bpf/gen/tcp.gen.js';\nexport const made = ConnEventView;\n");
    const r = cruise(dir);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /model-imports-nothing: src\/model\/layer-violation\.ts → src\/lib\/log\.ts/);
    assert.match(r.out, /components-do-not-import-each-other: src\/agent\/programs-violation\.ts → src\/programs\/registry\.ts/);
    assert.match(r.out, /tcp-views-stay-in-the-tcp-tracer: src\/cli\/view-violation\.ts → src\/bpf\/gen\/tcp\.gen\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no two folders of the agent import each other (one-way dependencies between features)', () => {
  const r = spawnSync(DEPCRUISE, ['src/agent', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: repoPath(), encoding: 'utf8', maxBuffer: 64 << 20 });
  const result = JSON.parse(r.stdout) as { modules: Array<{ source: string; dependencies: Array<{ resolved: string }> }> };
  // A module's folder: src/agent/<folder>/..., or the file itself for src/agent/<file>.ts.
  const folder = (p: string): string => p.split('/').slice(0, 3).join('/');
  const edges = new Set<string>();
  for (const m of result.modules) {
    if (!m.source.startsWith('src/agent/') || m.source.endsWith('.test.ts')) continue;
    for (const d of m.dependencies) {
      if (!d.resolved.startsWith('src/agent/')) continue;
      const a = folder(m.source);
      const b = folder(d.resolved);
      if (a !== b) edges.add(`${a} -> ${b}`);
    }
  }
  assert.ok(edges.size > 10, `the agent's folders were read (${edges.size} edges)`);
  const loops = [...edges].filter((e) => {
    const [a, b] = e.split(' -> ');
    return edges.has(`${b} -> ${a}`);
  });
  assert.deepEqual(loops, [], `folders importing each other: ${loops.join(', ')}`);
});
