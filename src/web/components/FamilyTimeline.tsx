/**
 * A family's versions as a timeline, newest first: which one the family
 * resolves to now, which are deprecated or scheduled, and where this image
 * stands among them (Glimpse's families).
 */
import type { Family, Image } from '../../api/wire-types';
import { api } from '../api';
import { date } from '../format';
import { href } from '../router';
import { useAsync } from './useAsync';

export function FamilyTimeline({ image }: { image: Image }) {
  const family = image.glimpse_family as string | undefined;
  const { data } = useAsync(() => (family ? api<Family>('GET', `/v2/glimpse/families/${encodeURIComponent(family)}`) : Promise.resolve(null)), [family, image.updated_at]);
  if (!family || !data || data.versions.length === 0) return null;
  return (
    <ol class="timeline" aria-label={`Versions of the family ${family}`}>
      {data.versions.map((v) => {
        const latest = v.id === data.latest?.id;
        const deprecated = typeof v.glimpse_deprecated_at === 'string';
        const scheduled = (v.glimpse_delete_at ?? v.glimpse_obsolete_at) as string | undefined;
        return (
          <li key={v.id} class={[latest && 'latest', deprecated && 'deprecated', v.id === image.id && 'current'].filter(Boolean).join(' ')} aria-current={v.id === image.id ? 'true' : undefined}>
            <time dateTime={v.created_at}>{date(v.created_at)}</time>{' '}
            {v.id === image.id ? <strong>{v.name || v.id}</strong> : <a href={href('images', v.id)}>{v.name || v.id}</a>} <span class="muted">{v.status}</span>
            {latest && <span class="badge">latest</span>}
            {deprecated && <span class="badge warn">deprecated</span>}
            {scheduled && <span class="muted"> — ends {date(scheduled)}</span>}
          </li>
        );
      })}
    </ol>
  );
}
