// Custom programs run kernel code on every node: whoever can create a BpfProgram resource can load
// one. The agent loads a resource's object only when it is trusted: pinned by its SHA-256 (the bytes
// are read once, checked, and loaded from memory, so a file swapped after the check is not what
// runs), or a file inside a directory the node's operator allows (symbolic links resolved first);
// inline objects (object_base64) only when that is enabled. A refused object loads nothing.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { sep } from 'node:path';

export interface ObjectTrust {
  /** Directories whose objects load without a pin (absolute); undefined: any (files named by the operator). */
  allowedDirs?: readonly string[];
  /** object_base64 accepted. */
  allowInline: boolean;
}

/** What the command line names is the operator's own choice: only pins are checked. */
export const OPERATOR_TRUST: ObjectTrust = { allowInline: true };

export type RefusalReason = 'Sha256Mismatch' | 'OutsideAllowedDirectories' | 'InlineObjectDisabled' | 'ObjectUnreadable';

export class ObjectRefusedError extends Error {
  override name = 'ObjectRefusedError';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function inside(path: string, dir: string): boolean {
  const d = dir.endsWith(sep) ? dir : `${dir}${sep}`;
  return path.startsWith(d);
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** What of a program configuration the trust check reads (config.ts's ProgramConfig has it). */
export interface ObjectSource {
  spec: { sha256?: string };
  object: { path: string } | { bytes: Buffer };
}

/** The configuration as it may load (a pinned file becomes its checked bytes), or why it may not. */
export function trustedConfig<C extends ObjectSource>(config: C, trust: ObjectTrust): C {
  const pin = config.spec.sha256;
  const object = config.object;
  if ('bytes' in object) {
    if (!trust.allowInline) {
      throw new ObjectRefusedError('InlineObjectDisabled', 'object_base64 is off on this node (inline objects let anyone who can write the resource run kernel code): put the object in an allowed directory, or start the agent with --allow-object-base64');
    }
    if (pin && sha256(object.bytes) !== pin) throw new ObjectRefusedError('Sha256Mismatch', `object_base64 has SHA-256 ${sha256(object.bytes)}, the spec pins ${pin}: nothing loaded`);
    return config;
  }
  if (pin) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(object.path);
    } catch (err) {
      throw new ObjectRefusedError('ObjectUnreadable', `object ${object.path} cannot be read to check its SHA-256: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const got = sha256(bytes);
    if (got !== pin) throw new ObjectRefusedError('Sha256Mismatch', `object ${object.path} has SHA-256 ${got}, the spec pins ${pin}: nothing loaded (rebuild, or update sha256 to the object you mean)`);
    return { ...config, object: { bytes } };
  }
  if (trust.allowedDirs === undefined) return config;
  let real: string;
  try {
    real = realpathSync(object.path);
  } catch {
    real = object.path;
  }
  const dirs = trust.allowedDirs.map(realDir);
  if (!dirs.some((d) => inside(real, d))) {
    const where = dirs.length ? `outside the allowed directories (${dirs.join(', ')})` : 'not pinned, and this node allows no directory';
    throw new ObjectRefusedError('OutsideAllowedDirectories', `object ${object.path}${real !== object.path ? ` (${real})` : ''} is ${where}: pin it with sha256: <sha256sum of the object>, or put it in a directory given with --trusted-object-dir`);
  }
  return config;
}
