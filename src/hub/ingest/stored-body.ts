// Inbox bodies as received: their content-encoding, with FRAMES_SUFFIX when the body is frames
// (wire/frames.ts) rather than JSON; read back as messages when batches are resumed after a restart.
import { gunzipSync, inflateSync } from 'node:zlib';
import { wire } from '../../model/index.js';

const FRAMES_SUFFIX = '+frames';

/** The inbox's encoding of a frames body that came with this content-encoding. */
export function framesEncoding(encoding: string): string {
  return `${encoding}${FRAMES_SUFFIX}`;
}

/** The messages of an inbox body (checked when it was accepted). */
export function storedMessages(body: Buffer, stored: string): unknown[] {
  const frames = stored.endsWith(FRAMES_SUFFIX);
  const encoding = frames ? stored.slice(0, -FRAMES_SUFFIX.length) : stored;
  const bytes = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipSync(body) : encoding === 'deflate' ? inflateSync(body) : body;
  if (frames) return wire.decodeFrames(bytes).map(wire.frameMessage);
  const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
}
