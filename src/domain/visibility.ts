/**
 * Who may see an image at all, before any policy rule runs (Glance's
 * database-level check): admins; everyone for public, community and
 * owner-less images; the owner; and members of a shared image, whatever their
 * member status. Everyone else gets 404 for it.
 */
import type { Image } from './image.js';

export interface Viewer {
  projectId: string | null;
  isAdmin: boolean;
}

export function isVisible(image: Image, viewer: Viewer, isMember: boolean): boolean {
  if (viewer.isAdmin || image.owner === null) return true;
  if (image.visibility === 'public' || image.visibility === 'community') return true;
  if (viewer.projectId !== null && image.owner === viewer.projectId) return true;
  return image.visibility === 'shared' && isMember;
}
