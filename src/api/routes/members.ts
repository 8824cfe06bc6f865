/** Sharing: /v2/images/{id}/members and /v2/images/{id}/members/{member_id}. */
import type { FastifyInstance } from 'fastify';
import type { Member } from '../../domain/member.js';
import type { MembersService } from '../../services/members.js';
import { routes } from '../routing.js';
import { isoSeconds } from '../wire.js';

type IdParams = { id: string };
type MemberParams = { id: string; member_id: string };

export function memberToWire(m: Member): Record<string, unknown> {
  return {
    member_id: m.member_id,
    image_id: m.image_id,
    status: m.status,
    created_at: isoSeconds(m.created_at),
    updated_at: isoSeconds(m.updated_at),
    schema: '/v2/schemas/member',
  };
}

export function memberRoutes(app: FastifyInstance, members: MembersService): void {
  routes(app, '/v2/images/:id/members', {
    GET: async (request) => ({
      members: (await members.list(request.ctx, (request.params as IdParams).id)).map(memberToWire),
      schema: '/v2/schemas/members',
    }),
    // Glance answers 200, not 201, to a new member.
    POST: { body: true, handler: async (request) => memberToWire(await members.add(request.ctx, (request.params as IdParams).id, request.body)) },
  });
  routes(app, '/v2/images/:id/members/:member_id', {
    GET: async (request) => {
      const { id, member_id } = request.params as MemberParams;
      return memberToWire(await members.show(request.ctx, id, member_id));
    },
    PUT: {
      body: true,
      handler: async (request) => {
        const { id, member_id } = request.params as MemberParams;
        return memberToWire(await members.setStatus(request.ctx, id, member_id, request.body));
      },
    },
    DELETE: async (request, reply) => {
      const { id, member_id } = request.params as MemberParams;
      await members.remove(request.ctx, id, member_id);
      reply.code(204);
    },
  });
}
