/**
 * Where an image comes from and what was made from it (Glimpse's lineage):
 * its ancestors, oldest first, down to it, then its descendants, each link
 * named by the property that makes it (a Nova snapshot's base_image_ref,
 * glimpse_derived_from) and the URL a web-download took it from.
 */
import type { Lineage as LineageWire, LineageImage } from '../../api/wire-types';
import { api } from '../api';
import { date } from '../format';
import { href } from '../router';
import { useAsync } from './useAsync';

export function Lineage({ id, updatedAt }: { id: string; updatedAt: string }) {
  const { data } = useAsync(() => api<LineageWire>('GET', `/v2/glimpse/images/${encodeURIComponent(id)}/lineage`), [id, updatedAt]);
  if (!data || (!data.ancestors.length && !data.descendants.length && !data.source_url && !data.converted_from && !data.copied_from)) return <p class="muted">No known parent or derived image.</p>;
  const ancestors = [...data.ancestors].reverse();
  return (
    <div class="lineage" aria-label="Lineage">
      {data.source_url && (
        <div class="node source">
          Downloaded from <span class="mono">{data.source_url}</span>
        </div>
      )}
      {ancestors.map((a) => (
        <Node key={a.id} image={a} />
      ))}
      <div class="node current" aria-current="true">
        <strong>{data.name || data.id}</strong> <span class="muted">{data.status}, {date(data.created_at)}</span>
        {data.converted_from && <span class="muted"> — converted from {data.converted_from} on import</span>}
        {data.copied_from && <span class="muted"> — copied from the store {data.copied_from}</span>}
      </div>
      {data.descendants.length > 0 && (
        <ul class="children">
          {data.descendants.map((d) => (
            <li key={d.id}>
              <span class="edge">↳ {d.via}</span> <Link image={d} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** An ancestor, and the link down to its child (named by the child's property that points at it). */
function Node({ image }: { image: LineageImage }) {
  return (
    <>
      <div class="node">
        <Link image={image} />
      </div>
      <div class="edge">↓ {image.via}</div>
    </>
  );
}

function Link({ image }: { image: LineageImage }) {
  return (
    <>
      <a href={href('images', image.id)}>{image.name || image.id}</a> <span class="muted">{image.status}, {date(image.created_at)}</span>
    </>
  );
}
