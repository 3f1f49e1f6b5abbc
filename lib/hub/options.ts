// HubOptions and their defaults from the environment ($HF_ENDPOINT, $HF_TOKEN or the login token
// file, $HF_HUB_OFFLINE, $HF_HUB_CACHE / $HF_HOME: see environment.ts), resolved once per call.
//
// $QLORA_CACHE_DIR is not read here: Hub files live in Hugging Face's own cache (shared with
// Python); QLORA_CACHE_DIR only holds this project's own caches (tokenized datasets).
import * as path from 'path';
import { ProgressCallback, consoleProgress } from '../util/progress';
import { defaultToken, hubCacheDir, offlineFromEnv } from './environment';
import { HubError } from './errors';
import { validateEndpoint, validateRevision } from './validate';

export type RepoType = 'model' | 'dataset';

export interface HubOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Default 'model'. */
  repoType?: RepoType;
  /**
   * The Hub cache folder itself (the one holding `models--org--name/`), like huggingface_hub's
   * `cache_dir`. Default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
   */
  cacheDir?: string;
  /** Default $HF_TOKEN, else the token file of `hf auth login` ($HF_TOKEN_PATH or $HF_HOME/token). An empty string means no token. */
  token?: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Never touch the network; only cached files (default: $HF_HUB_OFFLINE is 1/true/yes/on, like huggingface_hub). */
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
  cacheDir: string; // absolute: the Hub cache folder (holds models--org--name/)
  token: string | null;
  endpoint: string; // no trailing '/'
  offline: boolean;
  onProgress: ProgressCallback | null;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
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
  const token = opts.token !== undefined ? opts.token : defaultToken() ?? '';
  return {
    revision,
    repoType,
    cacheDir: opts.cacheDir !== undefined ? path.resolve(opts.cacheDir) : hubCacheDir(),
    token: token === '' ? null : token,
    endpoint: endpoint.replace(/\/+$/, ''),
    offline: opts.offline ?? offlineFromEnv(),
    onProgress: opts.onProgress === undefined ? consoleProgress() : opts.onProgress,
    retries: opts.retries ?? 3,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 30_000,
  };
}

