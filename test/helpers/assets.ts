// Where tests find the real tokenizer, config and IMDB files:
//   1. $QLORA_ASSETS (CI sets it to ../shared/assets),
//   2. else ../shared/assets beside the checkout,
//   3. else a folder fetched once into $QLORA_CACHE_DIR/test-assets (default data/test-assets):
//      the tokenizer from the Hub (through lib/hub, into the Hugging Face cache) and IMDB from its
//      own site (see fetch-assets.ts), so `npm test` works on a fresh clone with network.
// When none of these works, one sentence says why and what to do. Missing assets fail loudly:
// a test that silently skipped would count as passing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface AssetSources {
  /** $QLORA_ASSETS */
  assetsEnv?: string;
  /** ../shared/assets */
  sharedDir: string;
  /** Where fetched assets go. */
  fetchDir: string;
  /** Environment of the fetching process (HF_HUB_OFFLINE, HF_ENDPOINT, HF_HUB_CACHE, …). */
  env: NodeJS.ProcessEnv;
}

export function defaultSources(): AssetSources {
  return {
    assetsEnv: process.env.QLORA_ASSETS || undefined,
    sharedDir: path.resolve(REPO_ROOT, '..', 'shared', 'assets'),
    fetchDir: path.resolve(REPO_ROOT, process.env.QLORA_CACHE_DIR || 'data', 'test-assets'),
    env: process.env,
  };
}

let located: string | null = null;

/** The asset folder; fetches it (once, minutes) when neither QLORA_ASSETS nor ../shared/assets exists. */
export function assetsDir(): string {
  if (located === null) located = locateAssets(defaultSources());
  return located;
}

export function locateAssets(s: AssetSources): string {
  if (s.assetsEnv) {
    const dir = path.resolve(s.assetsEnv);
    if (!fs.existsSync(dir)) {
      throw new Error(`QLORA_ASSETS is ${dir}, which does not exist: point it at a folder laid out like ../shared/assets (distilbert-base-uncased/, imdb/, tokenizer-cases/), or unset it to fetch the assets from the Hub.`);
    }
    return dir;
  }
  if (fs.existsSync(s.sharedDir)) return s.sharedDir;
  if (fs.existsSync(s.fetchDir)) return s.fetchDir;

  process.stderr.write(`Test assets: QLORA_ASSETS is unset and ${s.sharedDir} does not exist; fetching them into ${s.fetchDir} (once)...\n`);
  const script = path.join(__dirname, 'fetch-assets.ts');
  const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', script, s.fetchDir], {
    cwd: REPO_ROOT,
    env: s.env,
    stdio: ['ignore', 'pipe', 'inherit'], // download progress shows; the failure reason comes on stdout
    encoding: 'utf8',
  });
  if (run.status !== 0 || !fs.existsSync(s.fetchDir)) {
    const why = (run.stdout || run.error?.message || `exit code ${run.status}`).trim();
    throw new Error(
      `Test assets not found and not fetched: QLORA_ASSETS is unset, ${s.sharedDir} does not exist, and fetching ` +
        `them from the Hub into ${s.fetchDir} failed (${why}); set QLORA_ASSETS to a folder laid out like ` +
        `../shared/assets, or run once with network access.`,
    );
  }
  return s.fetchDir;
}

/** A file or folder inside the asset directory; throws naming the path if it is missing. */
export function asset(...parts: string[]): string {
  const dir = assetsDir();
  const p = path.join(dir, ...parts);
  if (!fs.existsSync(p)) {
    const fetched = dir === defaultSources().fetchDir;
    throw new Error(
      fetched
        ? `Test asset missing: ${p}. It cannot be fetched from the Hub (only distilbert-base-uncased/ and imdb/ can); set QLORA_ASSETS to a folder that has it, such as ../shared/assets.`
        : `Test asset missing: ${p} (check QLORA_ASSETS).`,
    );
  }
  return p;
}
