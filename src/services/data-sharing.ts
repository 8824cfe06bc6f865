/**
 * Who may reach an image's bytes where they lie. Most stores hold every
 * image in the service's own account and need nothing; a multi-tenant Swift
 * store keeps each image in its owner's account, so, as Glance's `set_acls`
 * does, the container's read ACL follows the image: everyone for public and
 * community images, else the member projects (any member status).
 */
import type { RequestContext } from '../auth/context.js';
import type { MembersRepository } from '../db/members-repo.js';
import type { Image } from '../domain/image.js';
import type { StoreCaller } from '../store/image-store.js';
import type { StoreSet } from '../store/stores.js';

export function callerOf(ctx: RequestContext): StoreCaller {
  return { token: ctx.authToken, projectId: ctx.projectId };
}

export class DataSharing {
  private readonly stores: StoreSet;
  private readonly members: MembersRepository;

  constructor(d: { stores: StoreSet; members: MembersRepository }) {
    ({ stores: this.stores, members: this.members } = d);
  }

  /** After a change of visibility or members, or new data: the ACL of every location, or of `urls` only. */
  async sync(caller: StoreCaller, image: Image, urls = image.locations.map((l) => l.url)): Promise<void> {
    const targets = urls.flatMap((url) => {
      const store = this.stores.all.find((s) => s.setAcl && s.owns(url));
      return store ? [{ url, store }] : [];
    });
    if (targets.length === 0) return;
    const isPublic = image.visibility === 'public' || image.visibility === 'community';
    const readProjects = image.visibility === 'shared' ? (await this.members.list(image.id)).map((m) => m.member_id) : [];
    for (const { url, store } of targets) await store.setAcl!(url, { public: isPublic, readProjects }, caller);
  }
}
