/**
 * Downloads an active image's data with a progress bar. The request needs
 * the session's token, so a plain link cannot do it: the bytes are read
 * here. Up to BLOB_LIMIT they are gathered and saved as a file; a larger
 * image is written straight to a file the person picks (the File System
 * Access API), never held in memory, or, where the browser cannot, the
 * dashboard says to use `glimpse image save`.
 */
import { useState } from 'preact/hooks';
import type { Image } from '../../api/wire-types';
import { authHeaders, errorMessage } from '../api';
import { bytes } from '../format';

const BLOB_LIMIT = 512 * 1024 * 1024;

type Saver = { write(chunk: Uint8Array): Promise<void>; close(): Promise<void> };
type PickerWindow = Window & { showSaveFilePicker?: (o: { suggestedName: string }) => Promise<{ createWritable(): Promise<Saver> }> };

export function Download({ image }: { image: Image }) {
  const [received, setReceived] = useState<number | null>(null);
  const [error, setError] = useState('');
  const total = image.size ?? 0;
  const name = `${image.name || image.id}.${image.disk_format ?? 'img'}`;

  const start = async () => {
    setError('');
    const picker = (window as PickerWindow).showSaveFilePicker;
    if (total > BLOB_LIMIT && !picker) {
      setError(`This image is ${bytes(total)}: download it with \`glimpse image save --file ${name} ${image.id}\`.`);
      return;
    }
    try {
      const saver = total > BLOB_LIMIT && picker ? await (await picker({ suggestedName: name })).createWritable() : null;
      const res = await fetch(`/v2/images/${encodeURIComponent(image.id)}/file`, { headers: authHeaders() });
      if (!res.ok || !res.body) throw new Error(await errorMessage(res));
      const parts: BlobPart[] = [];
      let count = 0;
      setReceived(0);
      for (const reader = res.body.getReader(); ; ) {
        const { done, value } = await reader.read();
        if (done) break;
        count += value.length;
        if (saver) await saver.write(value);
        else parts.push(value as Uint8Array<ArrayBuffer>);
        setReceived(count);
      }
      if (saver) await saver.close();
      else saveBlob(new Blob(parts, { type: 'application/octet-stream' }), name);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setReceived(null);
    }
  };

  return (
    <div class="download">
      <button type="button" onClick={start} disabled={received !== null}>
        Download
      </button>
      {received !== null && (
        <span>
          <progress max={total} value={received} aria-label="Download progress" /> {bytes(received)} of {bytes(total)}
        </span>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
