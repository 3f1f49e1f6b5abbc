// What went wrong during a download, as a HubError whose message says what to do: a socket or
// disk error (toHubError), an HTTP answer (httpError), a file missing in offline mode (notCachedError).
import * as http from 'http';
import { formatBytes } from '../util/format';
import { Job, describeFile, fileSize } from './cache';
import { HubError } from './errors';
import { OFFLINE_CODES, TRANSIENT_CODES, errorCode } from './http-client';

/** The variable that points the notebook at a local copy of this kind of repo. */
export const localVariable = (job: Job) => (job.o.repoType === 'dataset' ? 'QLORA_DATA' : 'QLORA_MODEL');

export function notCachedError(job: Job): HubError {
  const { repoId, filename, o } = job;
  return new HubError(
    'NOT_CACHED',
    `Offline (HF_HUB_OFFLINE=1), and ${describeFile(repoId, filename, o)} is not in the Hugging Face cache ${o.cacheDir}: ` +
      `download it once with network (here, or in Python with \`hf download ${o.repoType === 'dataset' ? '--repo-type dataset ' : ''}${repoId}\`), ` +
      `or set ${localVariable(job)} to a local ${o.repoType === 'dataset' ? 'file or folder' : 'folder'} that has it.`,
  );
}

/** Turns whatever went wrong (a socket error, a write error, a HubError) into a HubError. */
export function toHubError(err: unknown, job: Job, phase: 'connect' | 'body' = 'connect', total: number | null = null): HubError {
  if (err instanceof HubError) return err;
  const code = errorCode(err);
  const o = job.o;
  const what = describeFile(job.repoId, job.filename, o);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const partial = job.partial ?? o.cacheDir;
    const have = job.partial ? fileSize(job.partial) : 0;
    const needed = total !== null ? `${formatBytes(Math.max(total - have, 0))} more` : 'more space';
    return new HubError(
      'DISK_FULL',
      `Disk full while writing ${what} to ${partial}: ${needed} needed there` +
        `${total !== null ? ` (the file is ${formatBytes(total)})` : ''}. Free some space or set HF_HUB_CACHE ` +
        `to a folder on a bigger disk; the partial file is kept and the download resumes.`,
      { cause: err },
    );
  }
  if (phase === 'body') {
    return new HubError(
      'INTERRUPTED',
      `The connection broke while downloading ${what} (${code || detail}). The partial file ${job.partial} ` +
        `(${formatBytes(job.partial ? fileSize(job.partial) : 0)}) is kept; running again resumes it.`,
      { retryable: true, cause: err },
    );
  }
  if (OFFLINE_CODES.has(code) || TRANSIENT_CODES.has(code)) {
    return new HubError(
      'NETWORK',
      `Cannot reach ${job.url.host} to download ${what} (${code}: ${detail}), and the Hugging Face cache ${o.cacheDir} ` +
        `has no copy of it. This machine seems to be offline or the Hub is unreachable: run once with network, or set ` +
        `HF_HUB_OFFLINE=1 and ${localVariable(job)} to a local copy.`,
      { retryable: TRANSIENT_CODES.has(code), cause: err },
    );
  }
  return new HubError('HTTP', `Downloading ${what} from ${job.url} failed: ${detail}`, { cause: err });
}

export function httpError(job: Job, res: http.IncomingMessage, url: URL): HubError {
  const status = res.statusCode ?? 0;
  const { repoId, filename, o } = job;
  const what = describeFile(repoId, filename, o);
  const serverCode = String(res.headers['x-error-code'] ?? '');
  const serverMessage = res.headers['x-error-message'] ? ` (server: ${res.headers['x-error-message']})` : '';
  const repoPage = `${o.endpoint}/${o.repoType === 'dataset' ? 'datasets/' : ''}${repoId}`;

  if (serverCode === 'RepoNotFound') {
    return new HubError(
      'REPO_NOT_FOUND',
      `${o.repoType === 'dataset' ? 'Dataset' : 'Model'} repo '${repoId}' not found at ${o.endpoint} (HTTP ${status}) while ` +
        `fetching '${filename}'${serverMessage}. Check the repo id (and repoType); if the repo is private, set HF_TOKEN.`,
    );
  }
  if (serverCode === 'RevisionNotFound') {
    return new HubError('REPO_NOT_FOUND', `Revision '${o.revision}' not found in repo '${repoId}' (HTTP ${status})${serverMessage}. Check the branch, tag or commit.`);
  }
  if (serverCode === 'GatedRepo') {
    return new HubError(
      'AUTH',
      `Repo '${repoId}' is gated (HTTP ${status}) while fetching '${filename}'${serverMessage}: accept its conditions at ${repoPage} ` +
        `and set HF_TOKEN to a token of that account.`,
    );
  }
  if (status === 401 || status === 403) {
    const fix = o.token
      ? 'The token given (HF_TOKEN or opts.token) was refused: check that it is valid and has read access to this repo.'
      : 'This repo needs a token: create one at https://huggingface.co/settings/tokens and set HF_TOKEN.';
    return new HubError('AUTH', `HTTP ${status} for ${what} at ${url}${serverMessage}. ${fix}`);
  }
  if (status === 404) {
    return new HubError(
      'NOT_FOUND',
      `Not found (HTTP 404): ${what} at ${url}${serverMessage}. Check the repo id '${repoId}' and the file name '${filename}' ` +
        `(browse ${repoPage}/tree/${encodeURIComponent(o.revision)}).`,
    );
  }
  const retryable = status === 429 || status >= 500;
  return new HubError('HTTP', `HTTP ${status} for ${what} at ${url}${serverMessage}.`, { retryable });
}
