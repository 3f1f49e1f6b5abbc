// Strict UTF-8 decoding for data files. A wrong byte must stop loading with its position,
// not turn silently into U+FFFD inside a review: a file saved as Latin-1 or cut mid-character
// would otherwise train on garbled text without anyone noticing.

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 (a leading BOM is dropped); throws naming `where`, the byte offset and line. */
export function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    // TextDecoder does not say where it failed; find the first bad byte ourselves.
    const offset = firstInvalidUtf8Byte(bytes);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    const shown = Array.from(bytes.subarray(offset, offset + 4), (b) => '0x' + b.toString(16).padStart(2, '0'));
    throw new Error(
      `${where}: not valid UTF-8 at byte offset ${offset} (line ${line}; bytes ${shown.join(' ')}). ` +
        `Re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).`,
    );
  }
}

/**
 * Offset of the first byte of the first sequence that breaks UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF, no sequence cut off at the end); -1 when all is valid.
 */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // Sequence length and the allowed range of the second byte (Unicode Table 3-7).
    let length: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) lo = 0xa0; // no overlongs
      if (b === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) lo = 0x90; // no overlongs
      if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k < length; k++) {
      if (i + k >= bytes.length) return i;
      const c = bytes[i + k];
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c < min || c > max) return i;
    }
    i += length;
  }
  return -1;
}
