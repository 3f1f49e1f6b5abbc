// lib/util/env.ts: the one on/off parser for environment variables.
import { envValue, parseBooleanEnv } from '../../lib/util/env';

test('the true and false words, in any case and with spaces', () => {
  for (const word of ['1', 'true', 'TRUE', ' yes ', 'On']) expect(parseBooleanEnv('X', word, false)).toBe(true);
  for (const word of ['0', 'false', 'False', ' no', 'OFF']) expect(parseBooleanEnv('X', word, true)).toBe(false);
});

test('unset or blank gives the fallback', () => {
  expect(parseBooleanEnv('X', undefined, true)).toBe(true);
  expect(parseBooleanEnv('X', '  ', false)).toBe(false);
});

test('other text is refused, naming the variable, or read as false when lenient', () => {
  expect(() => parseBooleanEnv('QLORA_DOUBLE_QUANT', 'maybe', true)).toThrow(
    "QLORA_DOUBLE_QUANT must be true or false (1/0, yes/no, on/off), got 'maybe' (unset QLORA_DOUBLE_QUANT to use true)",
  );
  expect(parseBooleanEnv('HF_HUB_OFFLINE', 'maybe', false, { lenient: true })).toBe(false);
});

test('envValue trims and treats blank as unset', () => {
  expect(envValue({ A: ' x ', B: ' ', C: undefined }, 'A')).toBe('x');
  expect(envValue({ A: ' x ', B: ' ' }, 'B')).toBeUndefined();
  expect(envValue({}, 'C')).toBeUndefined();
});
