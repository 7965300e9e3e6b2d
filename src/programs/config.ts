// Program configurations: YAML (one or more documents per file) validated against the shipped JSON
// Schema, with errors that name the file, line, column and field. Cloudflare ebpf_exporter
// configurations (a `metrics:` section next to a `<name>.bpf.o`) load as they are where features
// overlap; what flowscope does not support is reported, never silently ignored.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { documentValue, fieldName, position } from '../lib/yaml-position.js';
import { ObjectRefusedError, OPERATOR_TRUST, trustedConfig } from './trust.js';
export { fieldName } from '../lib/yaml-position.js';
import { programSchema, UNSUPPORTED_DECODERS, type ProgramSpec } from './schema.js';

/** A configuration that cannot be used; `problems` lists each with where it is. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid program configuration:\n  ${problems.join('\n  ')}`);
  }
}

export interface ProgramConfig {
  /** Program set name: metrics and self-metrics carry it; unique per exporter. */
  name: string;
  spec: ProgramSpec;
  /** Where the ELF comes from: a file path, or inline bytes. */
  object: { path: string } | { bytes: Buffer };
  /** Where the configuration came from (file[#document] or namespace/name of a resource). */
  source: string;
  format: 'flowscope' | 'ebpf_exporter';
  /** Parts that were left out (unsupported ebpf_exporter features), each with the reason. */
  warnings: string[];
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSpec = ajv.compile<ProgramSpec>(programSchema);

function pathOf(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function describe(e: ErrorObject): { path: Array<string | number>; text: string; atKey?: boolean } {
  const path = pathOf(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], text: `unknown field '${String(p.additionalProperty)}'`, atKey: true };
    case 'required':
      return { path, text: `missing required field '${String(p.missingProperty)}'` };
    case 'enum':
      return { path, text: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, text: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'pattern':
      return { path, text: `${e.message ?? 'does not match'} (a Prometheus/C identifier: letters, digits, _)` };
    default:
      return { path, text: e.message ?? e.keyword };
  }
}

export interface LoadOptions {
  /** Base directory for relative object paths (default: the directory of the file). */
  baseDir?: string;
}

/** Reads a YAML file: every document in it is a program. */
export function loadConfigFile(file: string): ProgramConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfigText(text, file, { baseDir: dirname(resolve(file)) });
}

/** Parses YAML text holding one or more program documents. */
export function parseConfigText(text: string, source: string, options: LoadOptions = {}): ProgramConfig[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if (!Array.isArray(docs)) throw new ConfigError(source, ['the file holds no YAML document']);
  const out: ProgramConfig[] = [];
  const live = docs.filter((d) => d.contents !== null);
  if (live.length === 0) throw new ConfigError(source, ['the file holds no YAML document']);
  live.forEach((doc, i) => {
    const where = live.length > 1 ? `${source}#${i + 1}` : source;
    const syntax = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `${source}:${line}:${col}: YAML syntax: ${e.message.split('\n')[0]}`;
    });
    if (syntax.length) throw new ConfigError(where, syntax);
    const value = documentValue(doc, lines, source);
    if ('problem' in value) throw new ConfigError(where, [value.problem]);
    out.push(configFromValue(value.value, where, { ...options, doc, lines, file: source, index: i }));
  });
  return out;
}

interface Located extends LoadOptions {
  doc?: Document;
  lines?: LineCounter;
  file?: string;
  index?: number;
}

/** Validates an already-parsed value (a YAML document, or a BpfProgram resource's spec). */
export function configFromValue(value: unknown, source: string, options: Located = {}): ProgramConfig {
  const at = (path: Array<string | number>, atKey = false): string =>
    options.doc && options.lines ? `${options.file ?? source}:${position(options.doc, options.lines, path, atKey)}: ` : '';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, [`${at([])}a program configuration is a mapping with at least 'metrics' (and 'object' or a sibling .bpf.o)`]);
  }
  const raw = value as Record<string, unknown>;
  // ebpf_exporter v1 (BCC): programs with C code compiled at run time.
  if (Array.isArray(raw.programs) && raw.programs.some((p) => p && typeof p === 'object' && ('code' in p || 'metrics' in p))) {
    throw new ConfigError(source, [
      `${at(['programs'])}programs: this is an ebpf_exporter v1 (BCC) configuration with C code inside; flowscope loads compiled ` +
        'CO-RE objects: compile the program with clang -target bpf into a .bpf.o and write its metrics section as in ebpf_exporter v2',
    ]);
  }
  if (!validateSpec(raw)) {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const e of validateSpec.errors ?? []) {
      const d = describe(e);
      const line = `${at(d.path, d.atKey)}${fieldName(d.path)}: ${d.text}`;
      if (!seen.has(line)) problems.push(line);
      seen.add(line);
    }
    throw new ConfigError(source, problems);
  }
  const spec = raw as unknown as ProgramSpec;
  const warnings: string[] = [];
  const problems: string[] = [];
  const fileBase = options.file && existsSync(options.file) ? basename(options.file, extname(options.file)) : undefined;
  const format: ProgramConfig['format'] = spec.object === undefined && spec.object_base64 === undefined ? 'ebpf_exporter' : 'flowscope';
  const name = spec.name ?? (fileBase && (options.index ?? 0) === 0 ? fileBase.replace(/[^a-zA-Z0-9_]/g, '_') : undefined);
  if (!name) problems.push(`${at([])}name: missing: give the program set a name`);

  let object: ProgramConfig['object'] | undefined;
  if (spec.object !== undefined && spec.object_base64 !== undefined) {
    problems.push(`${at(['object_base64'])}object_base64: give either 'object' (a path) or 'object_base64', not both`);
  } else if (spec.object_base64 !== undefined) {
    const compact = spec.object_base64.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) problems.push(`${at(['object_base64'])}object_base64: is not base64`);
    else object = { bytes: Buffer.from(compact, 'base64') };
  } else if (spec.object !== undefined) {
    object = { path: isAbsolute(spec.object) ? spec.object : join(options.baseDir ?? process.cwd(), spec.object) };
  } else if (options.file) {
    // ebpf_exporter: <dir>/<name>.yaml next to <dir>/<name>.bpf.o
    const sibling = join(options.baseDir ?? dirname(resolve(options.file)), `${basename(options.file, extname(options.file))}.bpf.o`);
    object = { path: sibling };
    if (!existsSync(sibling)) problems.push(`${at([])}no 'object' given and ${sibling} does not exist (ebpf_exporter layout): add object: PATH-TO.bpf.o`);
  } else {
    problems.push(`${at([])}object: missing: give 'object' (a path on the node) or 'object_base64'`);
  }

  // Unsupported ebpf_exporter features.
  for (const key of ['code', 'kprobes', 'kretprobes', 'tracepoints'] as const) {
    if (spec[key] !== undefined) problems.push(`${at([key])}${key}: BCC-era ebpf_exporter field; flowscope loads compiled objects and attaches programs by their SEC names`);
  }
  if (spec.kaddrs !== undefined) warnings.push(`${at(['kaddrs'])}kaddrs: not supported (kernel symbol addresses are not written into the object); programs that read them see zeros`);
  if (spec.tracing !== undefined) warnings.push(`${at(['tracing'])}tracing: OpenTelemetry tracing from ebpf_exporter is not supported; ignored`);
  const names = new Set<string>();
  const kinds = ['counters', 'gauges', 'histograms'] as const;
  for (const kind of kinds) {
    const list = spec.metrics[kind];
    if (!list) continue;
    const keep: typeof list = [];
    list.forEach((m, i) => {
      const where = ['metrics', kind, i];
      if (names.has(m.name)) {
        problems.push(`${at([...where, 'name'])}${fieldName([...where, 'name'])}: metric '${m.name}' is defined twice`);
        return;
      }
      names.add(m.name);
      if ('perf_event_array' in m && m.perf_event_array) {
        warnings.push(`${at(where)}${fieldName(where)} (${m.name}): perf_event_array counters are not supported (use a map that aggregates in the kernel); metric left out`);
        return;
      }
      const bad = (m.labels ?? []).flatMap((l) => (l.decoders ?? []).filter((d) => (UNSUPPORTED_DECODERS as readonly string[]).includes(d.name)).map((d) => `${l.name}:${d.name}`));
      if (bad.length) {
        warnings.push(`${at(where)}${fieldName(where)} (${m.name}): decoder ${bad.join(', ')} is not supported by flowscope; metric left out`);
        return;
      }
      for (const [j, l] of (m.labels ?? []).entries()) {
        for (const [k, d] of (l.decoders ?? []).entries()) {
          const dp = [...where, 'labels', j, 'decoders', k];
          if (d.name === 'static_map' && !d.static_map) problems.push(`${at(dp)}${fieldName(dp)}: static_map decoder needs a 'static_map' mapping`);
          if (d.name === 'regexp' && !d.regexps) problems.push(`${at(dp)}${fieldName(dp)}: regexp decoder needs 'regexps'`);
          if (d.regexps) {
            for (const r of d.regexps) {
              try {
                new RegExp(r);
              } catch (err) {
                problems.push(`${at(dp)}${fieldName(dp)}: regexp ${JSON.stringify(r)} is invalid: ${(err as Error).message}`);
              }
            }
          }
        }
      }
      if (kind === 'histograms') {
        const h = m as NonNullable<ProgramSpec['metrics']['histograms']>[number];
        if (!h.labels?.length) problems.push(`${at(where)}${fieldName(where)}: a histogram needs labels, the last one being the bucket index`);
        if (h.bucket_type === 'fixed' && !h.bucket_keys) problems.push(`${at(where)}${fieldName(where)}: bucket_type fixed needs bucket_keys`);
        if (h.bucket_type !== 'fixed' && h.bucket_max === undefined) problems.push(`${at(where)}${fieldName(where)}: missing required field 'bucket_max'`);
        if (h.bucket_max !== undefined && (h.bucket_min ?? 0) > h.bucket_max) problems.push(`${at([...where, 'bucket_min'])}${fieldName([...where, 'bucket_min'])}: must not exceed bucket_max`);
      }
      (keep as unknown[]).push(m);
    });
    (spec.metrics as Record<string, unknown>)[kind] = keep;
  }
  if (kinds.every((k) => !spec.metrics[k]?.length) && problems.length === 0) {
    problems.push(`${at(['metrics'])}metrics: no usable metric: define counters, gauges or histograms`);
  }
  if (spec.metric_prefix === undefined && format === 'ebpf_exporter') spec.metric_prefix = 'ebpf_exporter_';
  if (problems.length || !object || !name) throw new ConfigError(source, problems);
  return { name, spec, object, source, format, warnings };
}

/** Files named on the command line: YAML files, or directories whose *.yaml / *.yml files are read. */
export function loadConfigPaths(paths: string[]): { configs: ProgramConfig[]; errors: ConfigError[] } {
  const configs: ProgramConfig[] = [];
  const errors: ConfigError[] = [];
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      errors.push(new ConfigError(p, ['no such file or directory']));
      continue;
    }
    if (isDir) {
      for (const f of readdirSync(p).sort()) if (/\.ya?ml$/.test(f)) files.push(join(p, f));
    } else files.push(p);
  }
  const names = new Map<string, string>();
  for (const f of files) {
    try {
      for (const c of loadConfigFile(f)) {
        const other = names.get(c.name);
        if (other) {
          errors.push(new ConfigError(c.source, [`name: program set '${c.name}' is also defined in ${other}: names must be unique (set name:)`]));
          continue;
        }
        names.set(c.name, c.source);
        try {
          // Files named on the command line are the operator's: a pinned sha256 is still checked.
          configs.push(trustedConfig(c, OPERATOR_TRUST));
        } catch (err) {
          if (!(err instanceof ObjectRefusedError)) throw err;
          errors.push(new ConfigError(c.source, [`sha256: ${err.message}`]));
        }
      }
    } catch (err) {
      errors.push(err instanceof ConfigError ? err : new ConfigError(f, [(err as Error).message]));
    }
  }
  return { configs, errors };
}
