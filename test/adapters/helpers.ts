import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/** Listen on an ephemeral port of 127.0.0.1 and return the base URL. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: unknown; type: string | null }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body, type: response.headers.get('content-type') };
}

/** Yield to the loop once, the way a handler that awaits I/O would. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface OpenServers {
  /** node:http servers closed after each test. */
  servers: Server[];
  /** Fastify instances (or anything with `close()`) closed after each test. */
  fastifies: Array<{ close(): unknown }>;
  /** Serve `listener` on an ephemeral port of 127.0.0.1 until the test ends; returns the base URL. */
  serveNode(listener: Parameters<typeof createServer>[1]): Promise<string>;
}

/** Call at a test file's top level: what its tests start is closed after each of them. */
export function closeAfterEach(): OpenServers {
  const servers: Server[] = [];
  const fastifies: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
    await Promise.all(fastifies.splice(0).map((app) => app.close()));
  });
  return {
    servers,
    fastifies,
    serveNode(listener) {
      const server = createServer(listener);
      servers.push(server);
      return listen(server);
    },
  };
}
