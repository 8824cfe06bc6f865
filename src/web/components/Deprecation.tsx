/**
 * An image's place in its lifecycle (Glimpse's families and deprecation):
 * its family, and when deprecated, since when, what replaces it and what is
 * scheduled, with the way back (undeprecate) for those who may change it.
 */
import type { Image } from '../../api/wire-types';
import { api } from '../api';
import { date } from '../format';
import { href } from '../router';

export function Deprecation({ image, run }: { image: Image; run: (work: () => Promise<unknown>) => unknown }) {
  const family = image.glimpse_family as string | undefined;
  const since = image.glimpse_deprecated_at as string | undefined;
  if (!family && !since) return null;
  const replacement = image.glimpse_replacement as string | undefined;
  const obsolete = image.glimpse_obsolete_at as string | undefined;
  const deletion = image.glimpse_delete_at as string | undefined;
  return (
    <div class={since ? 'lifecycle deprecated' : 'lifecycle'} role={since ? 'note' : undefined} aria-label="Lifecycle">
      {family && <p>Family: <strong>{family}</strong></p>}
      {since && (
        <>
          <p>
            <strong>Deprecated</strong> since {date(since)}: hidden from default lists, still usable by id.
            {replacement && (
              <>
                {' '}Use <a href={href('images', replacement)}>{replacement}</a> instead.
              </>
            )}
          </p>
          {(obsolete || deletion) && (
            <p>
              {obsolete && <>Deactivated at {date(obsolete)}. </>}
              {deletion && <>Deleted at {date(deletion)}{image.protected ? ' (not while it is protected)' : ''}.</>}
            </p>
          )}
          <button type="button" onClick={() => run(() => api('POST', `/v2/images/${encodeURIComponent(image.id)}/actions/undeprecate`))}>
            Undeprecate
          </button>
        </>
      )}
    </div>
  );
}
