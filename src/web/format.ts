/** Sizes and dates as people read them. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

export function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** "5 min ago", "3 days ago": how long ago `iso` was, from `now`. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return iso;
  const steps: [number, string][] = [[60, 's'], [3600, 'min'], [86400, 'h'], [86400 * 30, 'days'], [86400 * 365, 'months']];
  if (seconds < 45) return 'just now';
  let unit = 'years';
  let value = seconds / (86400 * 365);
  for (let i = 1; i < steps.length; i++) {
    if (seconds < steps[i][0]) {
      [unit, value] = [steps[i - 1][1], seconds / steps[i - 1][0]];
      break;
    }
  }
  return `${Math.round(value)} ${unit} ago`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
