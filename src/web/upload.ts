/**
 * Sends a file straight to the API (PUT …/file or …/stage) with
 * XMLHttpRequest, the one browser API that reports upload progress. The
 * browser streams the File from disk; nothing is read into memory here.
 */
import { ApiError, authHeaders, cleanMessage } from './api';

export interface Progress {
  sent: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
}

export interface Upload {
  done: Promise<void>;
  cancel(): void;
}

export function uploadFile(url: string, file: File, onProgress: (p: Progress) => void): Upload {
  const xhr = new XMLHttpRequest();
  const samples: { t: number; sent: number }[] = [{ t: performance.now(), sent: 0 }];
  const done = new Promise<void>((resolve, reject) => {
    xhr.upload.onprogress = (e) => {
      const now = performance.now();
      samples.push({ t: now, sent: e.loaded });
      while (samples.length > 2 && now - samples[0].t > 3000) samples.shift();
      const first = samples[0];
      const rate = now > first.t ? ((e.loaded - first.sent) * 1000) / (now - first.t) : 0;
      onProgress({ sent: e.loaded, total: e.total || file.size, rate });
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new ApiError(xhr.status, messageOf(xhr)));
    };
    xhr.onerror = () => reject(new ApiError(0, 'The upload failed: the connection to the server was lost.'));
    xhr.onabort = () => reject(new ApiError(0, 'The upload was cancelled.'));
  });
  xhr.open('PUT', url);
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.setRequestHeader('content-type', 'application/octet-stream');
  xhr.setRequestHeader('accept', 'application/json');
  xhr.send(file);
  return { done, cancel: () => xhr.abort() };
}

function messageOf(xhr: XMLHttpRequest): string {
  try {
    const parsed = JSON.parse(xhr.responseText) as { message?: string };
    if (parsed.message) return cleanMessage(parsed.message);
  } catch {
    // not JSON
  }
  return cleanMessage(xhr.responseText) || `${xhr.status} ${xhr.statusText}`;
}
