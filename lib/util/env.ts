// Reading environment variables: the one parser for on/off switches.

/** Values read as true / false (case-insensitive), as most CLIs and HF's `HF_HUB_OFFLINE` accept them. */
const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];

/**
 * A boolean from an environment variable's text: 1/true/yes/on or 0/false/no/off (any case,
 * surrounding spaces ignored). Unset or blank gives `fallback`. Any other text throws an error
 * naming the variable and the accepted words, unless `lenient` is set, in which case it is false
 * (huggingface_hub reads HF_HUB_OFFLINE that way: only the true words switch it on).
 */
export function parseBooleanEnv(name: string, raw: string | undefined, fallback: boolean, opts: { lenient?: boolean } = {}): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(value)) return true;
  if (FALSE_WORDS.includes(value) || opts.lenient) return false;
  throw new Error(`${name} must be true or false (1/0, yes/no, on/off), got '${raw}' (unset ${name} to use ${fallback})`);
}

/** An environment variable's value, trimmed; undefined when unset or blank. */
export function envValue(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}
