/**
 * An image's readiness report (Glimpse's image insight): the OS found
 * inside, each check of the OpenStack image guide with its fix, and the
 * suggested properties, ready to apply in one click.
 */
import { useEffect } from 'preact/hooks';
import type { Image, InsightReport } from '../../api/wire-types';
import { api } from '../api';
import { date } from '../format';
import { ErrorBox } from './ErrorBox';
import { useAction } from './useAction';
import { useAsync } from './useAsync';

const MARK: Record<string, string> = { pass: '✓', warn: '!', fail: '✗' };
const WAITING = new Set(['pending', 'processing']);

export function Insight({ image, onChanged }: { image: Image; onChanged: () => void }) {
  const path = `/v2/glimpse/images/${encodeURIComponent(image.id)}/insight`;
  const { data: report, error, reload } = useAsync(() => api<InsightReport>('GET', path), [image.id, image.updated_at]);
  const action = useAction(() => {
    reload();
    onChanged();
  });
  const waiting = report ? WAITING.has(report.status) : false;
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(reload, 2000);
    return () => clearInterval(timer);
  }, [waiting, reload]);

  if (error) return <ErrorBox error={error} />;
  if (!report) return <p class="loading">Loading…</p>;
  const unset = report.suggested_properties.filter((s) => s.current === null);
  return (
    <div class="insight" aria-label="Readiness">
      <p>
        <Summary report={report} />
        {report.status !== 'not_inspectable' && image.status === 'active' && (
          <button type="button" onClick={() => action.run(() => api('POST', path))} disabled={waiting}>
            Inspect again
          </button>
        )}
      </p>
      <ErrorBox error={action.error} />
      {report.checks.length > 0 && (
        <ul class="checks">
          {report.checks.map((c) => (
            <li key={c.id} class={`check ${c.result}`}>
              <span class="mark" aria-label={c.result}>{MARK[c.result]}</span>
              <strong>{c.title}</strong>: {c.explanation}
              {c.fix && <div class="fix">Fix: {c.fix}</div>}
            </li>
          ))}
        </ul>
      )}
      {report.suggested_properties.length > 0 && (
        <>
          <h3>Suggested properties</h3>
          <table class="suggestions">
            <thead>
              <tr><th>Property</th><th>Suggested</th><th>Now</th><th>Defined in</th><th /></tr>
            </thead>
            <tbody>
              {report.suggested_properties.map((s) => (
                <tr key={s.name}>
                  <td class="mono">{s.name}</td>
                  <td class="mono">{s.value}</td>
                  <td class="mono">{s.current ?? '—'}</td>
                  <td>{s.namespace}</td>
                  <td>
                    <button type="button" onClick={() => action.run(() => api('POST', `${path}/apply`, { body: { properties: [s.name] } }))}>
                      Apply
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {unset.length > 0 && (
            <button type="button" class="primary" onClick={() => action.run(() => api('POST', `${path}/apply`, { body: {} }))}>
              Apply {unset.length} not set yet
            </button>
          )}
        </>
      )}
    </div>
  );
}

function Summary({ report }: { report: InsightReport }) {
  const f = report.findings;
  switch (report.status) {
    case 'inspected':
      return (
        <span>
          <strong>{[f.os_distro, f.os_version].filter(Boolean).join(' ') || 'Unknown OS'}</strong> ({[f.os_type, f.architecture, f.firmware].filter(Boolean).join(', ')}), inspected {date(report.inspected_at)}: {report.summary.pass} pass, {report.summary.warn} warn, {report.summary.fail} fail.{' '}
        </span>
      );
    case 'unreadable':
      return <span>No file system could be read ({f.partitions}). </span>;
    case 'failed':
      return <span>The inspection failed: {report.task?.message ?? 'no reason recorded'}. </span>;
    case 'pending':
    case 'processing':
      return <span>Inspecting… </span>;
    case 'not_inspectable':
      return <span>Not inspected: {report.reason}. </span>;
    default:
      return <span>Not inspected yet. </span>;
  }
}
