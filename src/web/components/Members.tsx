/**
 * Sharing: the owner adds and removes member projects of a shared image;
 * a member project accepts or rejects what was shared with it.
 */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { date } from '../format';
import type { Image, Member } from '../../api/wire-types';
import { projectId, session } from '../session';
import { ErrorBox } from './ErrorBox';
import { useAction } from './useAction';
import { useAsync } from './useAsync';


export function Members({ image }: { image: Image }) {
  // Without a session (noauth, trusted headers) the caller is taken as the owner; the API decides anyway.
  const mine = session.value === null || image.owner === projectId();
  if (image.visibility !== 'shared') {
    return <p>Only images with visibility “shared” have members.</p>;
  }
  return mine ? <OwnerView image={image} /> : <MemberView image={image} />;
}

function OwnerView({ image }: { image: Image }) {
  const base = `/v2/images/${encodeURIComponent(image.id)}/members`;
  const { data, error, reload } = useAsync(() => api<{ members: Member[] }>('GET', base).then((r) => r.members), [image.id]);
  const [project, setProject] = useState('');
  const action = useAction(reload);
  return (
    <div class="members">
      <ErrorBox error={error ?? action.error} />
      <table>
        <caption class="visually-hidden">Projects this image is shared with</caption>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Status</th>
            <th scope="col">Since</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data?.map((m) => (
            <tr key={m.member_id}>
              <td class="mono">{m.member_id}</td>
              <td>{m.status}</td>
              <td>{date(m.created_at)}</td>
              <td>
                <button type="button" aria-label={`Stop sharing with ${m.member_id}`} onClick={() => action.run(() => api('DELETE', `${base}/${encodeURIComponent(m.member_id)}`))}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
          {data?.length === 0 && (
            <tr>
              <td colSpan={4}>Not shared with any project yet.</td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(() => api('POST', base, { body: { member: project.trim() } })).then(() => setProject(''));
        }}
      >
        <label>
          Share with project (ID)
          <input name="member" required value={project} onInput={(e) => setProject((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Share</button>
      </form>
    </div>
  );
}

function MemberView({ image }: { image: Image }) {
  const me = projectId() ?? '';
  const path = `/v2/images/${encodeURIComponent(image.id)}/members/${encodeURIComponent(me)}`;
  const { data, error, reload } = useAsync(() => api<Member>('GET', path), [image.id, me]);
  const action = useAction(reload);
  const answer = (status: 'accepted' | 'rejected') => action.run(() => api('PUT', path, { body: { status } }));
  return (
    <div class="members">
      <ErrorBox error={error ?? action.error} />
      {data && (
        <p>
          Shared with your project: <strong data-testid="member-status">{data.status}</strong>{' '}
          {data.status !== 'accepted' && (
            <button type="button" onClick={() => void answer('accepted')}>
              Accept
            </button>
          )}{' '}
          {data.status !== 'rejected' && (
            <button type="button" onClick={() => void answer('rejected')}>
              Reject
            </button>
          )}
        </p>
      )}
    </div>
  );
}
