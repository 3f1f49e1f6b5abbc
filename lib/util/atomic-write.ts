// Atomic file writes: the one home for "readers never see half a file".
//
// Every file the library saves (checkpoints, adapters, downloads' metadata, tokenized-dataset
// caches, reports) goes through here. The content is written to a temporary file in the same
// folder (a rename is only atomic within one file system), flushed with fsync so a power cut
// cannot leave a renamed-but-empty file, then renamed over the target. On any error the
// temporary file is removed and the previous version of the target is left untouched.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** What to write: text (UTF-8), bytes, several byte chunks, or a callback writing to the open descriptor. */
export type AtomicContent = string | Uint8Array | readonly Uint8Array[] | ((fd: number) => void);

/** The temporary name used for `file` while it is written: hidden, unique per process and call. */
export function temporaryPathFor(file: string): string {
  const dir = path.dirname(path.resolve(file));
  return path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes `content` to `file` atomically (temporary file in the same folder, fsync, rename).
 * Creates the parent folder if needed.
 * @throws the file system's error (ENOSPC, EACCES, …), after removing the temporary file.
 */
export function writeFileAtomic(file: string, content: AtomicContent): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = temporaryPathFor(file);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w');
    if (typeof content === 'function') content(fd);
    else if (typeof content === 'string') fs.writeSync(fd, Buffer.from(content, 'utf8'));
    else if (content instanceof Uint8Array) writeAll(fd, content);
    else for (const part of content) writeAll(fd, part);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (error) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

// fs.writeSync may write fewer bytes than asked (large buffers, some file systems).
function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.byteLength) offset += fs.writeSync(fd, bytes, offset, bytes.byteLength - offset);
}
