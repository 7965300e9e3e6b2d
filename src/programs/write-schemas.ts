// Writes deploy/schemas/bpfprogram.schema.json and deploy/crds/bpfprogram.yaml from src/programs/schema.ts.
//   node dist/src/programs/write-schemas.js
// A test fails when the files in deploy/ differ from what this writes.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { programSchema, programSpecSchema } from './schema.js';
import { repoPath } from '../lib/paths.js';

export const SCHEMA_FILE = 'deploy/schemas/bpfprogram.schema.json';
export const CRD_FILE = 'deploy/crds/bpfprogram.yaml';

export function jsonSchemaText(): string {
  return `${JSON.stringify(programSchema, null, 2)}\n`;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * JSON Schema (draft-07) → a Kubernetes structural schema (OpenAPI v3 subset): no const, no
 * additionalProperties: false, no type unions, every node typed or marked preserve-unknown.
 * The agent validates the spec with the full JSON Schema anyway; this is the API server's first check.
 */
export function toStructural(s: Json): Json {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return s;
  const out: Record<string, Json> = {};
  const src = s as Record<string, Json>;
  for (const [k, v] of Object.entries(src)) {
    switch (k) {
      case '$schema':
      case '$id':
        break;
      case 'const':
        out.enum = [v];
        if (typeof v === 'string') out.type = 'string';
        break;
      case 'additionalProperties':
        if (v !== false) out.additionalProperties = toStructural(v);
        break;
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(v as Record<string, Json>).map(([pk, pv]) => [pk, toStructural(pv)]));
        break;
      case 'items':
        out.items = toStructural(v);
        break;
      case 'exclusiveMinimum':
        out.minimum = v;
        out.exclusiveMinimum = true;
        break;
      case 'type':
        if (Array.isArray(v)) {
          if (v.includes('string') && (v.includes('number') || v.includes('integer'))) out['x-kubernetes-int-or-string'] = true;
          else out['x-kubernetes-preserve-unknown-fields'] = true;
        } else out.type = v;
        break;
      default:
        out[k] = v;
    }
  }
  if (out.type === undefined && out['x-kubernetes-int-or-string'] === undefined) {
    if (Array.isArray(out.enum)) out.type = out.enum.every((e) => typeof e === 'number') ? 'integer' : 'string';
    else out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

export function crdText(): string {
  const spec = toStructural(programSpecSchema as unknown as Json) as Record<string, Json>;
  delete (spec.properties as Record<string, Json>).apiVersion;
  delete (spec.properties as Record<string, Json>).kind;
  spec.description = 'The program configuration: the same fields as a YAML file for `flowscope exporter --config` (see deploy/schemas/bpfprogram.schema.json).';
  const condition = {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string', description: 'Loaded, Attached or Error' },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: { type: 'string' },
      message: { type: 'string' },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      observedGeneration: { type: 'integer' },
    },
  };
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'bpfprograms.flowscope.io' },
    spec: {
      group: 'flowscope.io',
      scope: 'Cluster',
      names: { plural: 'bpfprograms', singular: 'bpfprogram', kind: 'BpfProgram', listKind: 'BpfProgramList', shortNames: ['bpfp'] },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Loaded', type: 'string', jsonPath: ".status.conditions[?(@.type=='Loaded')].status" },
            { name: 'Attached', type: 'string', jsonPath: ".status.conditions[?(@.type=='Attached')].status" },
            { name: 'Error', type: 'string', jsonPath: ".status.conditions[?(@.type=='Error')].message", priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'An eBPF program whose maps flowscope agents export as Prometheus metrics.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status: {
                  type: 'object',
                  properties: {
                    observedGeneration: { type: 'integer' },
                    conditions: { type: 'array', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
                    nodes: {
                      type: 'object',
                      description: 'Per node: the agent on that node writes its own entry (conditions as above).',
                      additionalProperties: { type: 'object', properties: { conditions: { type: 'array', items: condition } } },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  return `# Generated from src/programs/schema.ts by \`node dist/src/programs/write-schemas.js\`: edit the schema there.\n${stringify(crd, { lineWidth: 0 })}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, text] of [
    [SCHEMA_FILE, jsonSchemaText()],
    [CRD_FILE, crdText()],
  ] as const) {
    mkdirSync(dirname(repoPath(file)), { recursive: true });
    writeFileSync(repoPath(file), text);
    console.log(`wrote ${file}`);
  }
}
