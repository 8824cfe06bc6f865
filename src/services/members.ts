/**
 * Sharing: the owner adds and removes member projects of a `shared` image;
 * only the member itself (or an admin) accepts, rejects or resets its status.
 */
import { type RequestContext, assertWritable } from '../auth/context.js';
import type { MembersRepository } from '../db/members-repo.js';
import { dict } from '../domain/dict.js';
import { badRequest, forbidden, notFound } from '../domain/errors.js';
import type { Image } from '../domain/image.js';
import { MEMBER_STATUSES, type Member, type MemberStatus } from '../domain/member.js';
import { type DataSharing, callerOf } from './data-sharing.js';
import type { ImageAccess } from './image-access.js';

import type { Notifier } from '../notify/notifier.js';
import { deletedPayload, memberPayload } from '../notify/payloads.js';
export interface MembersServiceDeps {
  access: ImageAccess;
  members: MembersRepository;
  /** `image_member_quota`: members one image may have (negative: unlimited). */
  memberQuota: number;
  sharing: DataSharing;
  notify: Notifier;
}

export class MembersService {
  private readonly access: ImageAccess;
  private readonly members: MembersRepository;
  private readonly sharing: DataSharing;

  constructor(private readonly d: MembersServiceDeps) {
    ({ access: this.access, members: this.members, sharing: this.sharing } = d);
  }

  async add(ctx: RequestContext, imageId: string, body: unknown): Promise<Member> {
    assertWritable(ctx);
    const memberId = memberFromBody(body);
    const { image, target } = await this.access.load(ctx, imageId);
    this.access.authorize(ctx, 'add_member', target);
    assertShared(image);
    const added = await this.members.add(image.id, memberId, this.d.memberQuota);
    await this.sharing.sync(callerOf(ctx), image);
    this.d.notify.emit('image.member.create', memberPayload(added));
    return added;
  }

  /** The owner and admins see every member; a member sees only its own record. */
  async list(ctx: RequestContext, imageId: string): Promise<Member[]> {
    const { image, target } = await this.access.load(ctx, imageId);
    assertShared(image);
    this.access.authorize(ctx, 'get_members', target);
    const members = await this.members.list(image.id);
    if (ctx.isAdmin || image.owner === ctx.projectId) return members;
    return members.filter((m) => m.member_id === ctx.projectId);
  }

  /** Any refusal here is a 404: a member record is not proof that an image exists. */
  async show(ctx: RequestContext, imageId: string, memberId: string): Promise<Member> {
    const { image, target } = await this.access.load(ctx, imageId);
    const member = image.visibility === 'shared' ? await this.members.get(image.id, memberId) : null;
    const own = ctx.isAdmin || image.owner === ctx.projectId || memberId === ctx.projectId;
    if (!member || !own || !this.access.allowed(ctx, 'get_member', target)) {
      throw notFound(`Member ${memberId} not found for image ${imageId}.`);
    }
    return member;
  }

  async setStatus(ctx: RequestContext, imageId: string, memberId: string, body: unknown): Promise<Member> {
    assertWritable(ctx);
    const status = statusFromBody(body);
    const { image, target } = await this.access.load(ctx, imageId);
    assertShared(image);
    if (!ctx.isAdmin && image.owner === ctx.projectId) throw forbidden('Owners cannot change the status of an image member; only the member can.');
    const member = await this.members.get(image.id, memberId);
    if (!member || (!ctx.isAdmin && memberId !== ctx.projectId)) throw notFound(`Member ${memberId} not found for image ${imageId}.`);
    this.access.authorize(ctx, 'modify_member', Object.assign(dict<unknown>(), target, { member_id: memberId }));
    // A member's answer does not change who may read the data: the ACL lists members whatever their status.
    const changed = await this.members.setStatus(image.id, memberId, status);
    if (!changed) throw notFound(`Member ${memberId} not found for image ${imageId}.`);
    this.d.notify.emit('image.member.update', memberPayload(changed));
    return changed;
  }

  async remove(ctx: RequestContext, imageId: string, memberId: string): Promise<void> {
    assertWritable(ctx);
    const { image, target } = await this.access.load(ctx, imageId);
    assertShared(image);
    this.access.authorize(ctx, 'delete_member', target);
    const member = await this.members.get(image.id, memberId);
    if (!member || !(await this.members.remove(image.id, memberId))) throw notFound(`Member ${memberId} not found for image ${imageId}.`);
    this.d.notify.emit('image.member.delete', deletedPayload(memberPayload(member)));
    await this.sharing.sync(callerOf(ctx), image);
  }
}

function assertShared(image: Image): void {
  if (image.visibility !== 'shared') {
    throw forbidden(`Only shared images have members; image ${image.id} is ${image.visibility}.`);
  }
}

function memberFromBody(body: unknown): string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  const member = (body as Record<string, unknown>).member;
  if (member === undefined) throw badRequest('Member to be added not specified');
  if (typeof member !== 'string' || member.trim() === '') throw badRequest('Member to be added must be a non-empty project id.');
  if (member.length > 255) throw badRequest('Member id is longer than 255 characters.');
  return member;
}

function statusFromBody(body: unknown): MemberStatus {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  const status = (body as Record<string, unknown>).status;
  if (status === undefined) throw badRequest('Status not specified');
  if (!MEMBER_STATUSES.includes(status as MemberStatus)) {
    throw badRequest(`Invalid status: ${String(status)}. It must be one of ${MEMBER_STATUSES.join(', ')}.`);
  }
  return status as MemberStatus;
}
