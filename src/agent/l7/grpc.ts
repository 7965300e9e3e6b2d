// gRPC status codes (grpc/doc/statuscodes.md) and the service/method of a gRPC path.

const CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/** The name of a grpc-status value ('' when absent, UNKNOWN_<v> when not a known code). */
export function grpcCodeName(value: string | undefined): string {
  if (value === undefined || value === '') return '';
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n < CODES.length ? CODES[n]! : `UNKNOWN_${value.slice(0, 8).replace(/[^0-9A-Za-z]/g, '_')}`;
}

/** "/pkg.Service/Method" -> service and method; undefined when the path is not of that shape. */
export function grpcServiceMethod(path: string): { service: string; method: string } | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  return m ? { service: m[1]!, method: m[2]! } : undefined;
}

export function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && (ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;'));
}
