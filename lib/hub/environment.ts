// Where huggingface_hub keeps things, read from the same environment variables, in the same order,
// so that this project and Python (transformers, datasets, PEFT) share one cache and one login.
// Mirrors huggingface_hub/constants.py (HF_HOME, HF_HUB_CACHE, HF_TOKEN_PATH, HF_HUB_OFFLINE) and
// utils/_auth.py (get_token: $HF_TOKEN, then the file `hf auth login` / `huggingface-cli login` writes).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseBooleanEnv } from '../util/env';

// Python wraps these paths in os.path.expandvars(os.path.expanduser(...)): `~` and `$VAR`/`${VAR}`.
function expand(p: string): string {
  const vars = p.replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a: string | undefined, b: string | undefined) => {
    const value = process.env[(a ?? b) as string];
    return value === undefined ? whole : value; // expandvars leaves unknown variables as they are
  });
  return vars === '~' || vars.startsWith('~/') || vars.startsWith('~' + path.sep) ? path.join(os.homedir(), vars.slice(1)) : vars;
}

/** $HF_HOME, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (huggingface_hub.constants.HF_HOME). */
export function hfHome(): string {
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.resolve(expand(process.env.HF_HOME || path.join(xdg, 'huggingface')));
}

/**
 * The Hub cache folder, which holds `models--org--name/` and `datasets--org--name/`:
 * $HF_HUB_CACHE, else the legacy $HUGGINGFACE_HUB_CACHE, else `$HF_HOME/hub`
 * (huggingface_hub.constants.HF_HUB_CACHE). An absolute path.
 */
export function hubCacheDir(): string {
  return path.resolve(expand(process.env.HF_HUB_CACHE || process.env.HUGGINGFACE_HUB_CACHE || path.join(hfHome(), 'hub')));
}

/** $HF_TOKEN_PATH, else `$HF_HOME/token`: the file `hf auth login` writes. */
export function tokenPath(): string {
  return path.resolve(expand(process.env.HF_TOKEN_PATH || path.join(hfHome(), 'token')));
}

/**
 * The user's Hub token, as huggingface_hub.get_token() finds it: $HF_TOKEN (or the legacy
 * $HUGGING_FACE_HUB_TOKEN), else the token file; whitespace trimmed, empty means none.
 */
export function defaultToken(): string | null {
  const clean = (t: string | undefined | null) => (t && t.trim() !== '' ? t.trim() : null);
  const fromEnv = clean(process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN);
  if (fromEnv !== null) return fromEnv;
  try {
    return clean(fs.readFileSync(tokenPath(), 'utf8'));
  } catch {
    return null; // no file: not logged in, which is fine for public repos
  }
}

/** huggingface_hub.constants._is_true: 1, ON, YES, TRUE (any case) is true, anything else false. */
const envFlag = (name: string, value: string | undefined) => parseBooleanEnv(name, value, false, { lenient: true });

/** $HF_HUB_OFFLINE, or transformers' older $TRANSFORMERS_OFFLINE. */
export const offlineFromEnv = () => envFlag('HF_HUB_OFFLINE', process.env.HF_HUB_OFFLINE || process.env.TRANSFORMERS_OFFLINE);

/** $HF_HUB_DISABLE_SYMLINKS: copy blobs into snapshots instead of linking (as huggingface_hub does). */
export const symlinksDisabled = () => envFlag('HF_HUB_DISABLE_SYMLINKS', process.env.HF_HUB_DISABLE_SYMLINKS);
