// Headless Chromium for the report test: find it, install Debian's package once if missing
// (as root), take a screenshot, and decode the PNG with nothing but node:zlib.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';

function which(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

const INSTALL_MARKER = join(tmpdir(), 'loopguard-chromium-install-attempted');

/** The chromium binary, or why there is none (the test then skips and says so). */
export function ensureChromium(): { path: string } | { skip: string } {
  const present = which('chromium') ?? which('chromium-browser');
  if (present !== undefined) return { path: present };
  if (process.getuid?.() !== 0) return { skip: 'chromium is not installed and installing it needs root' };
  if (which('apt-get') === undefined) return { skip: 'chromium is not installed and apt-get is not available' };
  // Once per machine: a failed install (no network) must not be retried by every run.
  if (existsSync(INSTALL_MARKER)) return { skip: `chromium is not installed; an install was already tried (${INSTALL_MARKER})` };
  writeFileSync(INSTALL_MARKER, new Date().toISOString());
  const install = spawnSync('sh', ['-c', 'apt-get update && apt-get install -y chromium'], {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const installed = which('chromium');
  if (installed !== undefined) return { path: installed };
  return { skip: `installing chromium failed (exit ${install.status}): ${install.stderr.slice(-300)}` };
}

function chromiumArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    '--window-size=1200,900',
  ];
}

/** Screenshot of a local HTML file, decoded to RGBA. */
export function screenshot(chromium: string, htmlFile: string): Png {
  const profile = mkdtempSync(join(tmpdir(), 'loopguard-chromium-'));
  const png = join(profile, 'shot.png');
  try {
    execFileSync(chromium, [...chromiumArgs(profile), `--screenshot=${png}`, pathToFileURL(htmlFile).href], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    return decodePng(readFileSync(png));
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM after the page's scripts ran. */
export function dumpDom(chromium: string, htmlFile: string): string {
  const profile = mkdtempSync(join(tmpdir(), 'loopguard-chromium-'));
  try {
    return execFileSync(chromium, [...chromiumArgs(profile), '--dump-dom', pathToFileURL(htmlFile).href], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000,
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export interface Png {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, rows top to bottom. */
  pixels: Uint8Array;
}

/** 8-bit RGB/RGBA, non-interlaced PNGs: what Chromium writes. */
export function decodePng(file: Buffer): Png {
  let offset = 8;
  let width = 0;
  let height = 0;
  let colourType = 0;
  const data: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs are supported');
      colourType = body[9] ?? 0;
    } else if (type === 'IDAT') {
      data.push(body);
    }
    offset += 12 + length;
  }
  const channels = colourType === 6 ? 4 : colourType === 2 ? 3 : 0;
  if (channels === 0) throw new Error(`unsupported PNG colour type ${colourType}`);
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x += 1) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= channels ? (rows[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (rows[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = y > 0 && x >= channels ? (rows[(y - 1) * stride + x - channels] ?? 0) : 0;
      let predicted = 0;
      if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - upLeft);
        predicted = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      }
      rows[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  const pixels = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i += 1) {
    pixels[i * 4] = rows[i * channels] ?? 0;
    pixels[i * 4 + 1] = rows[i * channels + 1] ?? 0;
    pixels[i * 4 + 2] = rows[i * channels + 2] ?? 0;
    pixels[i * 4 + 3] = channels === 4 ? (rows[i * channels + 3] ?? 0) : 255;
  }
  return { width, height, pixels };
}

/** Pixels within `tolerance` of `#rrggbb`, optionally only in rows [top, bottom). */
export function countColour(png: Png, hex: string, tolerance = 8, top = 0, bottom = png.height): number {
  const r = parseInt(hex.slice(1, 3), 16);
  const g = parseInt(hex.slice(3, 5), 16);
  const b = parseInt(hex.slice(5, 7), 16);
  let count = 0;
  for (let y = top; y < bottom; y += 1) {
    for (let x = 0; x < png.width; x += 1) {
      const i = (y * png.width + x) * 4;
      if (
        Math.abs((png.pixels[i] ?? 0) - r) <= tolerance &&
        Math.abs((png.pixels[i + 1] ?? 0) - g) <= tolerance &&
        Math.abs((png.pixels[i + 2] ?? 0) - b) <= tolerance
      ) {
        count += 1;
      }
    }
  }
  return count;
}
