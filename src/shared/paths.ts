/**
 * How files are named in reports, shared by the main thread and the watchdog thread (whose
 * hang report cannot call into the main thread): it imports nothing from either side.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A path for a `file://` URL, else the name as given (`node:internal/...`, a bare path). */
export function fileOf(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/** Relative to `cwd` when the file lies inside it (shorter to read), else the full path. */
export function displayFile(file: string, cwd: string = process.cwd()): string {
  const path = fileOf(file);
  if (!isAbsolute(path)) return path;
  const shorter = relative(cwd, path);
  return shorter === '' || shorter === '..' || shorter.startsWith(`..${sep}`) ? path : shorter;
}
