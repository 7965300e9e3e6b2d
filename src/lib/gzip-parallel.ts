// One gzip stream from chunks compressed in parallel on libuv's threads (as pigz does): each chunk
// becomes raw deflate blocks ending in a sync flush (the last one finishes the stream), so that
// the blocks join into one deflate stream; the header and trailer (CRC-32 of everything, length)
// make it a single gzip member any client decodes. A chunk loses only its predecessor's window
// (a few per cent of size at 1 MB chunks); an answer of tens of MB compresses in a fraction of
// the time one stream takes.
import type { Writable } from 'node:stream';
import { constants, crc32, deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';

const deflate = promisify(deflateRaw);
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);

/** Compressed chunks of `parts`, in order, written to `out` as each is ready; resolves when all are written. */
export async function writeGzip(parts: readonly Buffer[], out: Writable, level = 1): Promise<void> {
  const jobs = parts.map((p, i) => deflate(p, { level, finishFlush: i === parts.length - 1 ? constants.Z_FINISH : constants.Z_SYNC_FLUSH }));
  // Failures are met in order below; none is left unhandled meanwhile.
  for (const j of jobs) j.catch(() => undefined);
  let crc = 0;
  let size = 0;
  for (const p of parts) {
    crc = crc32(p, crc);
    size += p.length;
  }
  out.write(HEADER);
  if (parts.length === 0) out.write(await deflate(Buffer.alloc(0), { level }));
  for (const job of jobs) {
    const block = await job;
    if (out.destroyed) return;
    out.write(block);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  out.end(trailer);
}
