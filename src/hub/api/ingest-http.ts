// POST /api/v1/ingest: an agent's messages as JSON (one message, or an array of them) or as
// frames (application/x-flowscope-frames: wire/frames.ts), gzip or plain; a batch's TCP records as records or as columns (tcp_columns, checked column by column).
// A body that is too large is refused with 413 before it is read in full, one that does not
// decode or validate with 400 naming the field; either way nothing changes.
import type { IncomingMessage } from 'node:http';
import { gunzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import { z } from 'zod';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { checkTcpColumns } from '../ingest/columns-check.js';
import { bodySchema, describeIssues, LIMITS, type BatchIn, type HelloIn } from '../ingest/schema.js';
import { wire } from '../../model/index.js';
import { ApiError } from './params.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export interface BodyLimits {
  /** Bytes as sent (compressed). */
  maxBodyBytes: number;
  /** Bytes after decompression. */
  maxDecodedBytes: number;
}

export const DEFAULT_LIMITS: BodyLimits = { maxBodyBytes: 16 << 20, maxDecodedBytes: 256 << 20 };

const tooLarge = (what: string, limit: number): ApiError => new ApiError(413, `${what} is larger than ${limit} bytes: send fewer records per request`, 'body');

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge('the body', limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.destroy();
      throw tooLarge('the body', limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function decodeBody(body: Buffer, encoding: string | undefined, limits: BodyLimits): Promise<string> {
  return (await decompressBody(body, encoding, limits)).toString('utf8');
}

/** The body's bytes, decompressed by its content-encoding. */
export async function decompressBody(body: Buffer, encoding: string | undefined, limits: BodyLimits): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return await gunzipAsync(body, { maxOutputLength: limits.maxDecodedBytes });
    if (enc === 'deflate') return await inflateAsync(body, { maxOutputLength: limits.maxDecodedBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge('the decompressed body', limits.maxDecodedBytes);
    throw new ApiError(400, `body: does not decompress as ${enc}: ${(err as Error).message}`, 'body');
  }
  if (enc !== 'identity') throw new ApiError(400, `content-encoding: '${enc}' is not supported: use gzip, deflate or none`, 'content-encoding');
  if (body.length > limits.maxDecodedBytes) throw tooLarge('the body', limits.maxDecodedBytes);
  return body;
}

// zod is the schema's source (types, messages that name the field); the hot path checks bodies
// with the same schema compiled by ajv, 3-4x faster per record (bench/hub-ingest.ts), and asks zod
// only to explain a body ajv refused. What JSON Schema cannot say (from <= to, label counts) is
// checked here. Lengths are counted in UTF-16 units (`unicode: false`: counting code points was a
// third of ajv's time in a profile of the ingest): never fewer than code points, so a string ajv lets through is
// within zod's limit too, and one it refuses is judged by zod. (ajv calls the option deprecated
// and warns at every start: its logger is off; its errors are thrown, not logged.)
const fastCheck = new Ajv2020({ strict: false, validateFormats: false, allErrors: false, unicode: false, logger: false }).compile(z.toJSONSchema(bodySchema, { io: 'input', unrepresentable: 'any' }));

function refinements(messages: Array<HelloIn | BatchIn>, inArray: boolean): void {
  messages.forEach((m, i) => {
    if (m.kind !== 'batch') return;
    const at = inArray ? `[${i}].` : '';
    if (Date.parse(m.from) > Date.parse(m.to)) throw new ApiError(400, `${at}from: must not be after to`, `${at}from`);
    if (m.tcp_columns !== undefined) {
      const problem = checkTcpColumns(m.tcp_columns, `${at}tcp_columns`);
      if (problem) throw new ApiError(400, problem.message, problem.field);
    } else if (m.tcp === undefined) throw new ApiError(400, `${at}tcp: required (the records, or tcp_columns)`, `${at}tcp`);
    for (const [j, r] of (m.tcp ?? []).entries()) {
      for (const end of ['local', 'remote'] as const) {
        const labels = r[end].labels;
        if (labels && Object.keys(labels).length > LIMITS.labels) throw new ApiError(400, `${at}tcp[${j}].${end}.labels: at most ${LIMITS.labels} labels`, `${at}tcp[${j}].${end}.labels`);
      }
    }
  });
}

/** Parses and validates; the messages in order. */
export function parseMessages(text: string): Array<HelloIn | BatchIn> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `body: is not JSON: ${(err as Error).message}`, 'body');
  }
  return checkMessages(json);
}

/**
 * Reads frames (wire/frames.ts) and validates their messages as the JSON form's array of them
 * (fields named `[i].tcp_columns.port[17]`, i the frame); the messages in order.
 */
export function parseFrames(body: Uint8Array): Array<HelloIn | BatchIn> {
  let frames: wire.DecodedFrame[];
  try {
    frames = wire.decodeFrames(body);
  } catch (err) {
    if (err instanceof wire.FrameError) throw new ApiError(400, err.message, err.field);
    throw err;
  }
  if (frames.length === 0) throw new ApiError(400, 'body: holds no frame', 'body');
  return checkMessages(frames.map(wire.frameMessage));
}

function checkMessages(json: unknown): Array<HelloIn | BatchIn> {
  if (!fastCheck(json)) {
    const parsed = bodySchema.safeParse(json);
    if (!parsed.success) {
      const { field, message } = describeIssues(parsed.error);
      throw new ApiError(400, message, field);
    }
  }
  const messages = (Array.isArray(json) ? json : [json]) as Array<HelloIn | BatchIn>;
  refinements(messages, Array.isArray(json));
  for (const m of messages) if (m.kind === 'batch') m.tcp ??= [];
  return messages;
}
