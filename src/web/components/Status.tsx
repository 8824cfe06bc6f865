/** An image status, with a live dot while the record changes by itself. */
import { BUSY_STATUSES } from '../images';

export function Status({ status }: { status: string }) {
  const busy = BUSY_STATUSES.has(status);
  return (
    <span class={`status status-${status}`}>
      {busy && <span class="live" aria-hidden="true" />}
      {status}
      {busy && <span class="visually-hidden"> (in progress)</span>}
    </span>
  );
}
