// Generates TypeScript decoders from compiled BPF objects' BTF, so that struct layouts crossing the
// kernel boundary are defined once, in C.
//
//   node dist/scripts/gen-decoders.js           write src/bpf/gen, test/gen, bench/gen
//   node dist/scripts/gen-decoders.js --check   exit 1 if a committed file is out of date
//
// Exported types: every `struct X {` and `enum X {` declared in a local header (not *.bpf.h) that
// the .bpf.c includes. Map layouts: every map in the object's .maps section.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { repoPath } from '../src/lib/paths.js';

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  vlen?: number;
  members?: BtfMember[];
  values?: Array<{ name: string; val: number }>;
  vars?: Array<{ type_id: number; offset: number; size: number }>;
}

interface Source {
  /** .bpf.c file */
  c: string;
  /** compiled object */
  obj: string;
  /** directory of the generated .gen.ts */
  outDir: string;
  includeDirs: string[];
}

function sources(): Source[] {
  const sets: Array<{ dir: string; out: string; objDir: string; includes: string[] }> = [
    { dir: 'bpf', out: 'src/bpf/gen', objDir: 'bpf/.output', includes: ['bpf/include'] },
    { dir: 'test/bpf', out: 'test/gen', objDir: 'bpf/.output/test', includes: ['bpf/include', 'test/bpf/include'] },
    { dir: 'bench/bpf', out: 'bench/gen', objDir: 'bpf/.output/bench', includes: ['bpf/include'] },
  ];
  const out: Source[] = [];
  for (const s of sets) {
    const dir = repoPath(s.dir);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.bpf.c')).sort()) {
      out.push({
        c: join(dir, f),
        obj: repoPath(s.objDir, f.replace(/\.c$/, '.o')),
        outDir: repoPath(s.out),
        includeDirs: s.includes.map((i) => repoPath(i)),
      });
    }
  }
  return out;
}

/** Struct and enum names declared in the local headers a program includes. */
function exportedNames(src: Source): { structs: string[]; enums: string[] } {
  const structs: string[] = [];
  const enums: string[] = [];
  const text = readFileSync(src.c, 'utf8');
  for (const m of text.matchAll(/#include\s+"([^"]+\.h)"/g)) {
    const header = m[1]!;
    if (header.endsWith('.bpf.h') || header === 'vmlinux.h') continue;
    const path = src.includeDirs.map((d) => join(d, header)).find((p) => existsSync(p));
    if (!path) continue;
    const h = readFileSync(path, 'utf8');
    for (const s of h.matchAll(/^\s*struct\s+(\w+)\s*\{/gm)) structs.push(s[1]!);
    for (const e of h.matchAll(/^\s*enum\s+(\w+)\s*\{/gm)) enums.push(e[1]!);
  }
  return { structs, enums };
}

function pascal(name: string): string {
  return name.replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}
function camel(name: string): string {
  const p = pascal(name);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

class Btf {
  private readonly byId = new Map<number, BtfType>();
  constructor(readonly types: BtfType[]) {
    for (const t of types) this.byId.set(t.id, t);
  }
  get(id: number): BtfType {
    const t = this.byId.get(id);
    if (!t) throw new Error(`BTF type ${id} not found`);
    return t;
  }
  /** Follows typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let t = this.get(id);
    while (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = this.get(t.type_id!);
    return t;
  }
  sizeOf(id: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'FLOAT':
        return t.size!;
      case 'PTR':
        return 8;
      case 'ARRAY':
        return t.nr_elems! * this.sizeOf(t.type_id!);
      default:
        throw new Error(`cannot size BTF kind ${t.kind}`);
    }
  }
  named(kind: string, name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === kind && t.name === name);
  }
}

type FieldKind =
  | { kind: 'int'; size: number; signed: boolean; bool: boolean }
  | { kind: 'string'; size: number }
  | { kind: 'bytes'; size: number }
  | { kind: 'intArray'; count: number; elem: { size: number; signed: boolean } }
  | { kind: 'struct'; name: string; size: number }
  | { kind: 'structArray'; name: string; count: number; elemSize: number };

function fieldKind(btf: Btf, typeId: number, where: string): FieldKind {
  const t = btf.resolve(typeId);
  if (t.kind === 'INT') return { kind: 'int', size: t.size!, signed: t.encoding === 'SIGNED', bool: t.encoding === 'BOOL' };
  if (t.kind === 'ENUM') return { kind: 'int', size: t.size!, signed: false, bool: false };
  if (t.kind === 'PTR') return { kind: 'int', size: 8, signed: false, bool: false };
  if (t.kind === 'STRUCT' || t.kind === 'UNION') {
    if (t.name === '(anon)' || !t.name) throw new Error(`${where}: anonymous nested struct/union: give it a name in the header`);
    return { kind: 'struct', name: t.name, size: t.size! };
  }
  if (t.kind === 'ARRAY') {
    const elem = btf.resolve(t.type_id!);
    const count = t.nr_elems!;
    if (elem.kind === 'INT' && elem.size === 1) {
      return elem.name === 'char' ? { kind: 'string', size: count } : { kind: 'bytes', size: count };
    }
    if (elem.kind === 'INT' || elem.kind === 'ENUM') return { kind: 'intArray', count, elem: { size: elem.size!, signed: elem.encoding === 'SIGNED' } };
    if (elem.kind === 'STRUCT' || elem.kind === 'UNION') return { kind: 'structArray', name: elem.name, count, elemSize: elem.size! };
  }
  throw new Error(`${where}: unsupported field type ${t.kind} ${t.name}`);
}

function intRead(size: number, signed: boolean, at: string): string {
  switch (size) {
    case 1:
      return signed ? `this.view.getInt8(${at})` : `this.view.getUint8(${at})`;
    case 2:
      return signed ? `this.view.getInt16(${at}, true)` : `this.view.getUint16(${at}, true)`;
    case 4:
      return signed ? `this.view.getInt32(${at}, true)` : `this.view.getUint32(${at}, true)`;
    case 8:
      return signed ? `readI64(this.view, ${at})` : `readU64(this.view, ${at})`;
  }
  throw new Error(`int of ${size} bytes`);
}

function intWrite(size: number, signed: boolean, at: string, value: string): string {
  switch (size) {
    case 1:
      return signed ? `view.setInt8(${at}, ${value})` : `view.setUint8(${at}, ${value})`;
    case 2:
      return signed ? `view.setInt16(${at}, ${value}, true)` : `view.setUint16(${at}, ${value}, true)`;
    case 4:
      return signed ? `view.setInt32(${at}, ${value}, true)` : `view.setUint32(${at}, ${value}, true)`;
    case 8:
      return signed ? `writeI64(view, ${at}, ${value})` : `writeU64(view, ${at}, ${value})`;
  }
  throw new Error(`int of ${size} bytes`);
}

function tsType(f: FieldKind): string {
  switch (f.kind) {
    case 'int':
      return f.bool ? 'boolean' : 'number';
    case 'string':
      return 'string';
    case 'bytes':
      return 'Uint8Array';
    case 'intArray':
      return 'number[]';
    case 'struct':
      return pascal(f.name);
    case 'structArray':
      return `${pascal(f.name)}[]`;
  }
}

function genStruct(btf: Btf, t: BtfType): string {
  const P = pascal(t.name);
  const fields = (t.members ?? []).map((m) => {
    if (m.bitfield_size) throw new Error(`struct ${t.name}.${m.name}: bitfields cannot cross the boundary; use whole integers`);
    if (m.bits_offset % 8 !== 0) throw new Error(`struct ${t.name}.${m.name}: not byte aligned`);
    return { name: m.name, offset: m.bits_offset / 8, size: btf.sizeOf(m.type_id), f: fieldKind(btf, m.type_id, `struct ${t.name}.${m.name}`) };
  });
  const L: string[] = [];
  L.push(`/** struct ${t.name} (${t.size} bytes) */`);
  L.push(`export const ${P}Layout = {`);
  L.push(`  size: ${t.size},`);
  L.push(`  fields: {`);
  for (const x of fields) L.push(`    ${x.name}: { offset: ${x.offset}, size: ${x.size} },`);
  L.push(`  },`);
  L.push(`} as const;`);
  L.push('');
  L.push(`export interface ${P} {`);
  for (const x of fields) L.push(`  ${x.name}: ${tsType(x.f)};`);
  L.push(`}`);
  L.push('');
  L.push(`/** Reads struct ${t.name} in place: position it with at(), then read fields. Allocates nothing per record. */`);
  L.push(`export class ${P}View {`);
  L.push(`  static readonly size = ${t.size};`);
  L.push(`  view: DataView = EMPTY_VIEW;`);
  L.push(`  offset = 0;`);
  for (const x of fields) {
    if (x.f.kind === 'struct' || x.f.kind === 'structArray') L.push(`  private readonly _${x.name} = new ${pascal(x.f.name)}View();`);
  }
  L.push('');
  L.push(`  at(view: DataView, offset: number): this {`);
  L.push(`    this.view = view;`);
  L.push(`    this.offset = offset;`);
  L.push(`    return this;`);
  L.push(`  }`);
  for (const x of fields) {
    const at = `this.offset + ${x.offset}`;
    const f = x.f;
    L.push('');
    switch (f.kind) {
      case 'int':
        L.push(`  get ${x.name}(): ${tsType(f)} {`);
        L.push(`    return ${intRead(f.size, f.signed, at)}${f.bool ? ' !== 0' : ''};`);
        L.push(`  }`);
        break;
      case 'string':
        L.push(`  get ${x.name}(): string {`);
        L.push(`    return readCString(this.view, ${at}, ${f.size});`);
        L.push(`  }`);
        break;
      case 'bytes':
        L.push(`  /** A view into the record's bytes (valid while the record's buffer is). */`);
        L.push(`  get ${x.name}(): Uint8Array {`);
        L.push(`    return readBytes(this.view, ${at}, ${f.size});`);
        L.push(`  }`);
        break;
      case 'intArray':
        L.push(`  ${x.name}(i: number): number {`);
        L.push(`    return ${intRead(f.elem.size, f.elem.signed, `${at} + i * ${f.elem.size}`)};`);
        L.push(`  }`);
        L.push(`  static readonly ${x.name}Length = ${f.count};`);
        break;
      case 'struct':
        L.push(`  get ${x.name}(): ${pascal(f.name)}View {`);
        L.push(`    return this._${x.name}.at(this.view, ${at});`);
        L.push(`  }`);
        break;
      case 'structArray':
        L.push(`  ${x.name}(i: number): ${pascal(f.name)}View {`);
        L.push(`    return this._${x.name}.at(this.view, ${at} + i * ${f.elemSize});`);
        L.push(`  }`);
        L.push(`  static readonly ${x.name}Length = ${f.count};`);
        break;
    }
  }
  L.push('');
  L.push(`  toObject(): ${P} {`);
  L.push(`    return decode${P}(this.view, this.offset);`);
  L.push(`  }`);
  L.push(`}`);
  L.push('');
  // decode
  L.push(`export function decode${P}(view: DataView, offset: number): ${P} {`);
  L.push(`  const v = new ${P}View().at(view, offset);`);
  L.push(`  return {`);
  for (const x of fields) {
    const f = x.f;
    switch (f.kind) {
      case 'int':
      case 'string':
        L.push(`    ${x.name}: v.${x.name},`);
        break;
      case 'bytes':
        L.push(`    ${x.name}: v.${x.name}.slice(),`);
        break;
      case 'intArray':
        L.push(`    ${x.name}: Array.from({ length: ${f.count} }, (_, i) => v.${x.name}(i)),`);
        break;
      case 'struct':
        L.push(`    ${x.name}: decode${pascal(f.name)}(view, offset + ${x.offset}),`);
        break;
      case 'structArray':
        L.push(`    ${x.name}: Array.from({ length: ${f.count} }, (_, i) => decode${pascal(f.name)}(view, offset + ${x.offset} + i * ${f.elemSize})),`);
        break;
    }
  }
  L.push(`  };`);
  L.push(`}`);
  L.push('');
  // encode
  L.push(`export function encode${P}(value: ${P}, view: DataView, offset: number): void {`);
  for (const x of fields) {
    const f = x.f;
    const at = `offset + ${x.offset}`;
    switch (f.kind) {
      case 'int':
        L.push(`  ${intWrite(f.size, f.signed, at, f.bool ? `value.${x.name} ? 1 : 0` : `value.${x.name}`)};`);
        break;
      case 'string':
        L.push(`  writeCString(view, ${at}, ${f.size}, value.${x.name});`);
        break;
      case 'bytes':
        L.push(`  writeBytes(view, ${at}, ${f.size}, value.${x.name});`);
        break;
      case 'intArray':
        L.push(`  value.${x.name}.slice(0, ${f.count}).forEach((x, i) => ${intWrite(f.elem.size, f.elem.signed, `${at} + i * ${f.elem.size}`, 'x')});`);
        break;
      case 'struct':
        L.push(`  encode${pascal(f.name)}(value.${x.name}, view, ${at});`);
        break;
      case 'structArray':
        L.push(`  value.${x.name}.slice(0, ${f.count}).forEach((x, i) => encode${pascal(f.name)}(x, view, ${at} + i * ${f.elemSize}));`);
        break;
    }
  }
  L.push(`}`);
  L.push('');
  L.push(`export const ${camel(t.name)}Codec: Codec<${P}> = { size: ${t.size}, decode: decode${P}, encode: encode${P} };`);
  return L.join('\n');
}

function genEnum(t: BtfType): string {
  const P = pascal(t.name);
  const L = [`/** enum ${t.name} */`, `export const ${P} = {`];
  for (const v of t.values ?? []) L.push(`  ${v.name}: ${v.val},`);
  L.push(`} as const;`);
  return L.join('\n');
}

function typeLabel(t: BtfType): string | undefined {
  if (!t.name || t.name === '(anon)') return undefined;
  return t.kind === 'STRUCT' || t.kind === 'UNION' ? `${t.kind.toLowerCase()} ${t.name}` : t.name;
}

/** Map layouts from the .maps section: the struct behind each map variable names its key and value. */
function mapLayouts(btf: Btf): Array<{ name: string; type: number; keySize: number; valueSize: number; keyType?: string; valueType?: string }> {
  const sec = btf.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  const out: Array<{ name: string; type: number; keySize: number; valueSize: number; keyType?: string; valueType?: string }> = [];
  for (const v of sec?.vars ?? []) {
    const variable = btf.get(v.type_id);
    const def = btf.resolve(variable.type_id!);
    let type = 0;
    let keySize = 0;
    let valueSize = 0;
    let keyType: string | undefined;
    let valueType: string | undefined;
    for (const m of def.members ?? []) {
      const target = btf.resolve(m.type_id);
      if (target.kind !== 'PTR') continue;
      const pointee = btf.resolve(target.type_id!);
      if (m.name === 'type') type = pointee.nr_elems ?? 0;
      if (m.name === 'key_size') keySize = pointee.nr_elems ?? 0;
      if (m.name === 'value_size') valueSize = pointee.nr_elems ?? 0;
      if (m.name === 'key') {
        keySize = btf.sizeOf(target.type_id!);
        keyType = typeLabel(btf.get(target.type_id!));
      }
      if (m.name === 'value') {
        valueSize = btf.sizeOf(target.type_id!);
        valueType = typeLabel(btf.get(target.type_id!));
      }
    }
    out.push({ name: variable.name, type, keySize, valueSize, keyType, valueType });
  }
  return out;
}

function generate(src: Source): { path: string; text: string } {
  if (!existsSync(src.obj)) throw new Error(`${src.obj} is missing: run \`make bpf\` first`);
  const json = execFileSync('bpftool', ['btf', 'dump', 'file', src.obj, 'format', 'raw', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const btf = new Btf((JSON.parse(json) as { types: BtfType[] }).types);
  const names = exportedNames(src);
  const objName = basename(src.obj, '.bpf.o');
  const path = join(src.outDir, `${objName}.gen.ts`);
  const codecPath = relative(dirname(path), repoPath('src/bpf/codec.js')).replace(/\\/g, '/');
  const objectPath = relative(dirname(path), repoPath('src/bpf/object.js')).replace(/\\/g, '/');
  const header = [`// Generated by scripts/gen-decoders.ts from the BTF of ${relative(repoPath(), src.obj)}. Do not edit: run \`make gen\`.`];
  const structs = names.structs.map((n) => btf.named('STRUCT', n) ?? btf.named('UNION', n)).filter((t): t is BtfType => !!t);
  const missing = names.structs.filter((n) => !btf.named('STRUCT', n) && !btf.named('UNION', n));
  if (missing.length) {
    throw new Error(`${src.c}: struct ${missing.join(', ')} not in the object's BTF: use it in a map or FLOWSCOPE_EXPORT_TYPE()`);
  }
  const body: string[] = [];
  for (const e of names.enums) {
    const t = btf.named('ENUM', e);
    if (!t) throw new Error(`${src.c}: enum ${e} not in the object's BTF: use FLOWSCOPE_EXPORT_TYPE(enum ${e}, ${e})`);
    body.push(genEnum(t), '');
  }
  // Nested structs first so that classes are declared before use.
  const ordered: BtfType[] = [];
  const visit = (t: BtfType): void => {
    if (ordered.includes(t)) return;
    for (const m of t.members ?? []) {
      const r = btf.resolve(m.type_id);
      const inner = r.kind === 'ARRAY' ? btf.resolve(r.type_id!) : r;
      if ((inner.kind === 'STRUCT' || inner.kind === 'UNION') && inner.name) {
        const named = structs.find((s) => s.name === inner.name);
        if (!named) throw new Error(`struct ${t.name}.${m.name}: nested struct ${inner.name} must be declared in the same header`);
        visit(named);
      }
    }
    ordered.push(t);
  };
  structs.forEach(visit);
  for (const t of ordered) body.push(genStruct(btf, t), '');
  const maps = mapLayouts(btf);
  body.push(`/** Maps of ${objName}.bpf.o: opening the object with this layout refuses maps whose sizes differ. */`);
  body.push(`export const layout = {`);
  for (const m of maps) {
    const types = [m.keyType ? `key: ${m.keyType}` : '', m.valueType ? `value: ${m.valueType}` : ''].filter(Boolean).join(', ');
    body.push(`  ${m.name}: { keySize: ${m.keySize}, valueSize: ${m.valueSize} },${types ? ` // ${types}` : ''}`);
  }
  body.push(`} as const satisfies ObjectLayout;`);
  body.push('');
  // Import only the helpers the body uses.
  const text = body.join('\n');
  const helpers = ['readU64', 'readI64', 'writeU64', 'writeI64', 'readCString', 'writeCString', 'readBytes', 'writeBytes'].filter((h) =>
    new RegExp(`\\b${h}\\(`).test(text),
  );
  const rel = (p: string): string => (p.startsWith('.') ? p : `./${p}`);
  if (structs.length) header.push(`import { ${['type Codec', ...helpers].join(', ')} } from '${rel(codecPath)}';`);
  header.push(`import type { ObjectLayout } from '${rel(objectPath)}';`, '');
  if (structs.length) header.push(`const EMPTY_VIEW = new DataView(new ArrayBuffer(0));`, '');
  return { path, text: [...header, text].join('\n') };
}

function main(): void {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const src of sources()) {
    const { path, text } = generate(src);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (current === text) continue;
    if (check) {
      console.error(`out of date: ${relative(repoPath(), path)} (run \`make gen\`)`);
      stale++;
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`  GEN     ${relative(repoPath(), path)}`);
  }
  if (stale) process.exit(1);
}

main();
