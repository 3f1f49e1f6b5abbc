// The one error type of lib/hub: a HubError with a code saying what went wrong, so callers can
// branch on `err.code` ('NOT_CACHED', 'AUTH', …) rather than on message text.

export type HubErrorCode =
  | 'INVALID_ARGUMENT' // a bad repo id, file name, revision or endpoint
  | 'NETWORK' // the endpoint cannot be reached (offline, DNS, refused, timeout)
  | 'AUTH' // 401/403: a token is needed, or the one given is wrong
  | 'REPO_NOT_FOUND' // the server says the repo or the revision does not exist
  | 'NOT_FOUND' // 404 for the file (or the server did not say which part was wrong)
  | 'CHECKSUM' // the downloaded bytes do not match the Hub's sha256
  | 'DISK_FULL' // ENOSPC, or not enough free space for the announced size
  | 'NOT_CACHED' // offline, and the file is not in the cache
  | 'INTERRUPTED' // the connection broke mid-file; the partial file is kept for a resume
  | 'REDIRECT' // too many redirects, or a redirect without a usable Location
  | 'BAD_FILE' // a downloaded index file is not what it should be
  | 'HTTP'; // any other unexpected HTTP answer

export class HubError extends Error {
  readonly code: HubErrorCode;
  /** Worth another try (cut connection, timeout, 5xx, 429). */
  readonly retryable: boolean;

  constructor(code: HubErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'HubError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}
