// The JSON Schema of a program configuration (YAML file, or the spec of a BpfProgram custom resource).
// It is the one source of truth: deploy/schemas/bpfprogram.schema.json and the CRD's openAPIV3Schema
// are written from it (`node dist/src/programs/write-schemas.js`) and a test keeps them in step.
//
// The metrics section is a superset of Cloudflare ebpf_exporter's (counters, histograms, labels with
// size and decoders), so its configurations validate too.

export const DECODER_NAMES = [
  'uint',
  'hex',
  'string',
  'inet_ip',
  'port',
  'ip_protocol',
  'syscall',
  'ksym',
  'errno',
  'static_map',
  'cgroup',
  'pid',
  'majorminor',
  'ifname',
  'regexp',
] as const;

/** ebpf_exporter decoders flowscope does not implement: metrics using them are left out with a warning. */
export const UNSUPPORTED_DECODERS = ['kstack', 'dname', 'pci_vendor', 'pci_device', 'pci_class', 'pci_subclass'] as const;

const name = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', maxLength: 200 };

const decoder = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { enum: [...DECODER_NAMES, ...UNSUPPORTED_DECODERS] },
    static_map: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
    allow_unknown: { type: 'boolean' },
    regexps: { type: 'array', items: { type: 'string' }, minItems: 1 },
    byte_order: { enum: ['little', 'big'] },
    output: { enum: ['path', 'container_id', 'pod_uid', 'pod', 'namespace', 'container', 'comm', 'cgroup', 'name'] },
  },
};

const label = {
  type: 'object',
  required: ['name', 'size'],
  additionalProperties: false,
  properties: {
    name,
    size: { type: 'integer', minimum: 1, maximum: 4096 },
    offset: { type: 'integer', minimum: 0 },
    decoders: { type: 'array', items: decoder },
  },
};

const value = {
  type: 'object',
  additionalProperties: false,
  properties: {
    offset: { type: 'integer', minimum: 0 },
    size: { enum: [1, 2, 4, 8] },
  },
};

const common = {
  name: { ...name, description: 'metric name (also the map name unless `map` is given, as in ebpf_exporter)' },
  help: { type: 'string', minLength: 1 },
  map: name,
  labels: { type: 'array', items: label },
};

const counter = {
  type: 'object',
  required: ['name', 'help'],
  additionalProperties: false,
  properties: {
    ...common,
    value,
    skip_zero: { type: 'boolean' },
    perf_event_array: { type: 'boolean' },
    flush_interval: {},
  },
};

const histogram = {
  type: 'object',
  required: ['name', 'help', 'bucket_type'],
  additionalProperties: false,
  properties: {
    ...common,
    bucket_type: { enum: ['exp2', 'exp2zero', 'linear', 'fixed'] },
    bucket_min: { type: 'integer', minimum: 0 },
    bucket_max: { type: 'integer', minimum: 0, maximum: 4096 },
    bucket_multiplier: { type: 'number', exclusiveMinimum: 0 },
    bucket_keys: { type: 'array', items: { type: 'number' }, minItems: 1 },
  },
};

const attach = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    auto: { const: true },
    tracepoint: { type: 'string', pattern: '^[^/]+/[^/]+$' },
    raw_tp: { type: 'string', minLength: 1 },
    tc: {
      type: 'object',
      required: ['interface'],
      additionalProperties: false,
      properties: {
        interface: { type: 'string', minLength: 1 },
        direction: { enum: ['ingress', 'egress'] },
        mode: { enum: ['auto', 'tcx', 'legacy'] },
      },
    },
    cgroup: { type: 'object', additionalProperties: false, properties: { path: { type: 'string' } } },
    socket: { type: 'object', additionalProperties: false, properties: { interface: { type: 'string', minLength: 1 } } },
    uprobe: {
      type: 'object',
      required: ['binary'],
      additionalProperties: false,
      properties: {
        binary: { type: 'string', minLength: 1 },
        function: { type: 'string' },
        offset: { type: 'integer', minimum: 0 },
        pid: { type: 'integer' },
        retprobe: { type: 'boolean' },
      },
    },
  },
};

/** The spec of a program: what a YAML file holds, and what a BpfProgram resource's spec holds. */
export const programSpecSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'flowscope.io/v1alpha1' },
    kind: { const: 'BpfProgram' },
    name: { ...name, description: 'program set name (default: the file name)' },
    object: { type: 'string', minLength: 1, description: 'path of the compiled .bpf.o (relative to the YAML file)' },
    object_base64: { type: 'string', minLength: 8, description: 'the compiled .bpf.o inline, base64 (BpfProgram resources: only when the agent runs with --allow-object-base64)' },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'the object\'s SHA-256 (hex): a pinned object loads only with exactly these bytes, from any directory' },
    globals: {
      type: 'object',
      description: '`const volatile` globals set before load',
      additionalProperties: { type: ['integer', 'boolean'] },
    },
    max_entries: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } },
    programs: {
      type: 'array',
      description: 'attach settings per program; programs not listed attach as their SEC name says',
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name,
          enabled: { type: 'boolean' },
          attach,
        },
      },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        counters: { type: 'array', items: counter },
        gauges: { type: 'array', items: counter },
        histograms: { type: 'array', items: histogram },
      },
    },
    metric_prefix: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$|^$' },
    // ebpf_exporter top-level keys: accepted, reported as unsupported.
    kaddrs: { type: 'array', items: { type: 'string' } },
    tracing: {},
    code: {},
    kprobes: {},
    kretprobes: {},
    tracepoints: {},
  },
  required: ['metrics'],
} as const;

export const programSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://flowscope.io/schemas/bpfprogram.schema.json',
  title: 'flowscope eBPF program configuration (BpfProgram spec)',
  ...programSpecSchema,
} as const;

// ---- the configuration as TypeScript types (after validation) ----

export interface DecoderSpec {
  name: string;
  static_map?: Record<string, string | number>;
  allow_unknown?: boolean;
  regexps?: string[];
  byte_order?: 'little' | 'big';
  output?: string;
}

export interface LabelSpec {
  name: string;
  size: number;
  offset?: number;
  decoders?: DecoderSpec[];
}

export interface CounterSpec {
  name: string;
  help: string;
  map?: string;
  labels?: LabelSpec[];
  value?: { offset?: number; size?: 1 | 2 | 4 | 8 };
  skip_zero?: boolean;
  perf_event_array?: boolean;
  flush_interval?: unknown;
}

export interface HistogramSpec {
  name: string;
  help: string;
  map?: string;
  labels?: LabelSpec[];
  bucket_type: 'exp2' | 'exp2zero' | 'linear' | 'fixed';
  bucket_min?: number;
  bucket_max?: number;
  bucket_multiplier?: number;
  bucket_keys?: number[];
}

export interface AttachSpec {
  auto?: true;
  tracepoint?: string;
  raw_tp?: string;
  tc?: { interface: string; direction?: 'ingress' | 'egress'; mode?: 'auto' | 'tcx' | 'legacy' };
  cgroup?: { path?: string };
  /** Socket filters: a packet socket on this interface (default: all interfaces). */
  socket?: { interface?: string };
  uprobe?: { binary: string; function?: string; offset?: number; pid?: number; retprobe?: boolean };
}

export interface ProgramSpec {
  apiVersion?: string;
  kind?: string;
  name?: string;
  object?: string;
  object_base64?: string;
  sha256?: string;
  globals?: Record<string, number | boolean>;
  max_entries?: Record<string, number>;
  programs?: Array<{ name: string; enabled?: boolean; attach?: AttachSpec }>;
  metrics: { counters?: CounterSpec[]; gauges?: CounterSpec[]; histograms?: HistogramSpec[] };
  metric_prefix?: string;
  kaddrs?: string[];
  tracing?: unknown;
  code?: unknown;
  kprobes?: unknown;
  kretprobes?: unknown;
  tracepoints?: unknown;
}
