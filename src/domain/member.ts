/** Image members: projects an image is shared with. */
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface Member {
  image_id: string;
  member_id: string;
  status: MemberStatus;
  created_at: Date;
  updated_at: Date;
}
