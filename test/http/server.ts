// A real node:http server on 127.0.0.1 port 0 for the HTTP layer tests. It counts requests,
// connections and concurrent requests, and hands each request (with its body read) to the test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  /** 1-based arrival order. */
  n: number;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Resolves when the connection that carried this request closes. */
  socketClosed: Promise<void>;
}

export type Handler = (hit: Hit, req: IncomingMessage, res: ServerResponse) => unknown;

export interface TestServer {
  url: string;
  port: number;
  hits: Hit[];
  connections: number;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startServer(handler: Handler): Promise<TestServer> {
  const state: Omit<TestServer, 'url' | 'port' | 'close'> = { hits: [], connections: 0, inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let done = false;
    const end = (): void => {
      if (!done) state.inFlight--;
      done = true;
    };
    res.on('close', end);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const socketClosed = req.socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
      const hit: Hit = { n: state.hits.length + 1, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socketClosed };
      state.hits.push(hit);
      void Promise.resolve(handler(hit, req, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  }) as TestServer;
}

/** A port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
