// Where tests find the real tokenizer, config and IMDB files: $QLORA_ASSETS (CI sets it to
// ../shared/assets), else ../shared/assets beside the checkout. Missing assets fail loudly:
// a test that silently skipped would count as passing.
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export function assetsDir(): string {
  const dir = process.env.QLORA_ASSETS
    ? path.resolve(process.env.QLORA_ASSETS)
    : path.resolve(REPO_ROOT, '..', 'shared', 'assets');
  if (!fs.existsSync(dir)) {
    throw new Error(
      `Test assets not found at ${dir}. Set QLORA_ASSETS to a folder laid out like ../shared/assets ` +
        `(distilbert-base-uncased/, imdb/, tokenizer-cases/).`,
    );
  }
  return dir;
}

/** A file or folder inside the asset directory; throws naming the path if it is missing. */
export function asset(...parts: string[]): string {
  const p = path.join(assetsDir(), ...parts);
  if (!fs.existsSync(p)) throw new Error(`Test asset missing: ${p} (check QLORA_ASSETS)`);
  return p;
}
