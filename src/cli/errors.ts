// Errors the CLI turns into one line and an exit code: 2 for usage, 1 for run-time failures.

/** Bad flags or arguments: the user must change the command line. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
