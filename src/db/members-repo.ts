/**
 * Image members, stored as Glance stores them: a removed member is
 * soft-deleted, and adding it again revives its old row (status back to
 * pending), so the (image_id, member, deleted_at) key never collides.
 */
import { conflict, tooLarge } from '../domain/errors.js';
import type { Member, MemberStatus } from '../domain/member.js';
import { type Db, fromBool, fromTime } from './connection.js';
import type { Database } from './tables.js';

type Row = Pick<Database['image_members'], 'image_id' | 'member' | 'status' | 'created_at' | 'updated_at' | 'deleted'> & { id: number };

export class MembersRepository {
  constructor(private readonly db: Db) {}

  async list(imageId: string): Promise<Member[]> {
    const rows = await this.rows(imageId);
    return rows.filter((r) => !fromBool(r.deleted)).map(toMember);
  }

  async get(imageId: string, memberId: string): Promise<Member | null> {
    const row = (await this.rows(imageId, memberId)).find((r) => !fromBool(r.deleted));
    return row ? toMember(row) : null;
  }

  /**
   * Adds a member, or revives its old row, under the image row's lock:
   * concurrent adds (a retry, a double submit, two nodes) find the row the
   * first one wrote, so there is never more than one live row to revoke, and
   * `quota` (image_member_quota; negative: unlimited) counts what is stored.
   */
  async add(imageId: string, memberId: string, quota: number): Promise<Member> {
    const now = this.db.toTime(new Date());
    await this.db.kysely.transaction().execute(async (trx) => {
      await this.db.lockImage(trx, imageId);
      const rows = await this.rows(imageId, memberId, trx);
      if (rows.some((r) => !fromBool(r.deleted))) throw conflict(`Member ${memberId} already exists for image ${imageId}.`);
      const live = (await this.rows(imageId, undefined, trx)).filter((r) => !fromBool(r.deleted)).length;
      if (quota >= 0 && live + 1 > quota) {
        throw tooLarge(`The limit has been exceeded on the number of allowed image members for this image. Attempted: ${live + 1}, Maximum: ${quota}`);
      }
      if (rows.length > 0) {
        await trx
          .updateTable('image_members')
          .set({ deleted: this.db.toBool(false), status: 'pending', created_at: now, updated_at: now })
          .where('id', '=', rows[0].id)
          .execute();
        return;
      }
      await trx
        .insertInto('image_members')
        .values({ image_id: imageId, member: memberId, can_share: this.db.toBool(false), status: 'pending', created_at: now, updated_at: now, deleted: this.db.toBool(false) })
        .execute();
    });
    return (await this.get(imageId, memberId))!;
  }

  async setStatus(imageId: string, memberId: string, status: MemberStatus): Promise<Member | null> {
    const result = await this.db.kysely
      .updateTable('image_members')
      .set({ status, updated_at: this.db.toTime(new Date()) })
      .where('image_id', '=', imageId)
      .where('member', '=', memberId)
      .where('deleted', '=', this.db.toBool(false))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.get(imageId, memberId) : null;
  }

  /** Revokes a member: every live row of it (a database written before adds were atomic may hold several). */
  async remove(imageId: string, memberId: string): Promise<boolean> {
    const live = (await this.rows(imageId, memberId)).filter((r) => !fromBool(r.deleted));
    const now = Date.now();
    // One second apart: Glance's unique key is (image_id, member, deleted_at), and MySQL keeps whole seconds.
    for (const [i, row] of live.entries()) {
      const t = this.db.toTime(new Date(now + i * 1000));
      await this.db.kysely
        .updateTable('image_members')
        .set({ deleted: this.db.toBool(true), deleted_at: t, updated_at: t })
        .where('id', '=', row.id)
        .execute();
    }
    return live.length > 0;
  }

  /** Every row of an image (or of one member of it), live or not: liveness is checked in code, see images-repo. */
  private rows(imageId: string, memberId?: string, trx = this.db.kysely): Promise<Row[]> {
    let q = trx
      .selectFrom('image_members')
      .select(['id', 'image_id', 'member', 'status', 'created_at', 'updated_at', 'deleted'])
      .where('image_id', '=', imageId);
    if (memberId !== undefined) q = q.where('member', '=', memberId);
    return q.orderBy('id').execute();
  }
}

function toMember(r: Row): Member {
  return {
    image_id: r.image_id,
    member_id: r.member,
    status: r.status as MemberStatus,
    created_at: fromTime(r.created_at),
    updated_at: fromTime(r.updated_at ?? r.created_at),
  };
}
