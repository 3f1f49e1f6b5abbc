// A padded batch: rows of token ids of different lengths → row-major [batch, seq] Int32Arrays with an
// attention mask, as transformers' tokenizer(…, padding=…, return_tensors=…) returns them.

export type Padding = 'max_length' | 'longest';

/** A padded batch, row-major [batchSize, seqLength]. */
export interface EncodedBatch {
  /** int32 ids, [batchSize, seqLength], padded with the [PAD] id. */
  inputIds: Int32Array;
  /** int32 1 for tokens, 0 for padding, [batchSize, seqLength]. */
  attentionMask: Int32Array;
  batchSize: number;
  seqLength: number;
  /** Each row's length before padding ([CLS] and [SEP] included). */
  lengths: Int32Array;
}

/** Throws unless `padding` is 'max_length' or 'longest'. */
export function checkPadding(padding: unknown, where: string): Padding {
  if (padding !== 'max_length' && padding !== 'longest') {
    const shown = typeof padding === 'string' ? JSON.stringify(padding) : String(padding);
    throw new Error(`${where}: padding must be 'max_length' or 'longest', got ${shown}`);
  }
  return padding;
}

// Rows → [rows.length, seqLength] ids (padded with padId) and mask (1 for tokens, 0 for padding).
export function padRows(rows: ArrayLike<number>[], seqLength: number, padId: number): EncodedBatch {
  const batchSize = rows.length;
  const inputIds = new Int32Array(batchSize * seqLength).fill(padId);
  const attentionMask = new Int32Array(batchSize * seqLength);
  const lengths = new Int32Array(batchSize);
  rows.forEach((row, b) => {
    inputIds.set(row, b * seqLength);
    attentionMask.fill(1, b * seqLength, b * seqLength + row.length);
    lengths[b] = row.length;
  });
  return { inputIds, attentionMask, batchSize, seqLength, lengths };
}

export function longestRow(rows: ArrayLike<number>[]): number {
  let longest = 0;
  for (const row of rows) longest = Math.max(longest, row.length);
  return longest;
}
