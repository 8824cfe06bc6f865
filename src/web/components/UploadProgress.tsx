/** Bytes sent, rate and time left of an upload, with its cancel button. */
import { bytes, duration } from '../format';
import type { Progress } from '../upload';

export function UploadProgress({ progress, onCancel }: { progress: Progress; onCancel?: () => void }) {
  const { sent, total, rate } = progress;
  const left = rate > 0 ? (total - sent) / rate : Number.POSITIVE_INFINITY;
  return (
    <div class="upload">
      <progress max={total} value={sent} aria-label="Upload progress" />
      <span class="upload-figures" data-testid="upload-figures">
        {bytes(sent)} of {bytes(total)} · {bytes(rate)}/s · {sent >= total ? 'checking…' : `${duration(left)} left`}
      </span>
      {onCancel && sent < total && (
        <button type="button" onClick={onCancel}>
          Cancel upload
        </button>
      )}
    </div>
  );
}
