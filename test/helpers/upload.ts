/** Uploads over a raw HTTP request, so a test can pace, pause or cut the body. */
import http from 'node:http';

export interface SlowUpload {
  /** Sends more bytes. */
  write(chunk: Buffer): Promise<void>;
  /** Ends the body and resolves with the status code. */
  finish(): Promise<number>;
  /** Drops the connection mid-body, as a crashed client would. */
  cut(): void;
  /** Resolves with the status once the server answers (possibly before the body ends). */
  response: Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>;
}

export function slowUpload(url: string, headers: Record<string, string> = {}): SlowUpload {
  const req = http.request(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked', accept: 'application/json', ...headers },
  });
  const response = new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
  });
  response.catch(() => undefined);
  return {
    write: (chunk) => new Promise((resolve, reject) => req.write(chunk, (err) => (err ? reject(err) : resolve()))),
    finish: async () => {
      req.end();
      return (await response).status;
    },
    cut: () => req.destroy(),
    response,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true (bounded). */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}
