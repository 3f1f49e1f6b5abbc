// HubOptions and their defaults from the environment ($HF_ENDPOINT, $HF_TOKEN, $HF_HUB_OFFLINE,
// $QLORA_CACHE_DIR), resolved once per call into ResolvedOptions.
import * as path from 'path';
import { ProgressCallback, consoleProgress } from '../util/progress';
import { HubError } from './errors';
import { validateEndpoint, validateRevision } from './validate';

export type RepoType = 'model' | 'dataset';

export interface HubOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Default 'model'. */
  repoType?: RepoType;
  /** Default $QLORA_CACHE_DIR, else 'data' (relative to the current folder). */
  cacheDir?: string;
  /** Default $HF_TOKEN. An empty string means no token. */
  token?: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Never touch the network; only cached files (default: $HF_HUB_OFFLINE is 1/true/yes/on). */
  offline?: boolean;
  /** Progress events; default prints to stderr (see consoleProgress); null for silence. */
  onProgress?: ProgressCallback | null;
  /** Retries after a cut connection, a timeout or a 5xx/429 answer (default 3). */
  retries?: number;
  /** First retry delay; it doubles each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Give up on a connection silent for this long (default 30 000 ms). */
  timeoutMs?: number;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface ResolvedOptions {
  revision: string;
  repoType: RepoType;
  cacheDir: string; // absolute
  token: string | null;
  endpoint: string; // no trailing '/'
  offline: boolean;
  onProgress: ProgressCallback | null;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

export function resolveOptions(opts: HubOptions): ResolvedOptions {
  const revision = opts.revision ?? 'main';
  validateRevision(revision);
  const repoType = opts.repoType ?? 'model';
  if (repoType !== 'model' && repoType !== 'dataset') {
    throw new HubError('INVALID_ARGUMENT', `Invalid repoType ${JSON.stringify(repoType)}: use 'model' or 'dataset'.`);
  }
  const endpoint = opts.endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT);
  validateEndpoint(endpoint);
  const token = opts.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN ?? '';
  return {
    revision,
    repoType,
    cacheDir: path.resolve(opts.cacheDir ?? (process.env.QLORA_CACHE_DIR || 'data')),
    token: token === '' ? null : token,
    endpoint: endpoint.replace(/\/+$/, ''),
    offline: opts.offline ?? envFlag(process.env.HF_HUB_OFFLINE),
    onProgress: opts.onProgress === undefined ? consoleProgress() : opts.onProgress,
    retries: opts.retries ?? 3,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 30_000,
  };
}

